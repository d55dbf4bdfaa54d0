/**
 * The question, in one place: the prompt that Run, Generate, Explain and Trace all use, with a
 * live token count against the context length and a hint when empty; target and distractor, with
 * how they tokenize after the prompt (a warning when one is several tokens: the first is used);
 * the example questions; generation pacing and Stop; and every error in words beside the field
 * it is about (the run's under the prompt, the analysis' under its buttons).
 */
import { useEffect, useState } from 'react';
import { presets } from '../../../shared/presets.js';
import type { TokenInfo } from '../../../shared/protocol.js';
import { useAppServices } from '../../state/app-context.js';
import { useAppStore, type StopReason } from '../../state/app-store.js';
import { plainError } from '../../state/plain-errors.js';
import { displayTokens } from '../../state/token-text.js';
import { useAnalysis } from '../state/analysis-services.js';
import { useAnalysisStore, type TokenSplit } from '../state/analysis-store.js';

export const stopReasonText: Record<StopReason, string> = {
  eos: 'Stopped: the model wrote end-of-text.',
  length: 'Stopped: generated the tokens asked for.',
  context: "Stopped: the model's context window is full.",
  cancelled: 'Stopped by you.',
};

export const pacingOptions = [
  { ms: 0, label: 'fast' },
  { ms: 150, label: 'slow' },
  { ms: 600, label: 'very slow' },
] as const;

function SplitPreview({ label, split, testId }: { label: string; split: TokenSplit | null; testId: string }) {
  if (!split) return null;
  const several = split.tokens.length > 1;
  const shown = displayTokens(split.tokens);
  return (
    <div className={several ? 'token-split several' : 'token-split'} data-testid={testId} data-count={split.tokens.length}>
      {shown.map((token, i) => (
        <span key={i} className={i === 0 ? 'chip used' : 'chip'} title={`${token.title} (id ${split.tokens[i]!.id})`}>{token.text}</span>
      ))}
      {several && (
        <span className="warning" data-testid={`${testId}-warning`}>
          ⚠ {label} is {split.tokens.length} tokens; only the first, “{shown[0]!.text}”, is used
        </span>
      )}
    </div>
  );
}

/** The prompt's token count, asked of the server (the `tokenize` event), debounced. */
function usePromptTokens(prompt: string, ready: boolean): { count: number | null; error: string | null } {
  const { connection } = useAppServices();
  const [result, setResult] = useState<{ count: number | null; error: string | null }>({ count: null, error: null });
  useEffect(() => {
    if (!ready || prompt.length === 0) {
      setResult({ count: prompt.length === 0 ? 0 : null, error: null });
      return;
    }
    let live = true;
    const timer = setTimeout(() => {
      connection.backend.emit('tokenize', prompt, (response: { ok: true; value: TokenInfo[] } | { ok: false; error: { code: string; message: string } }) => {
        if (!live) return;
        if (response.ok) setResult({ count: response.value.length, error: null });
        else setResult({ count: null, error: plainError(`${response.error.code}: ${response.error.message}`) });
      });
    }, 200);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [prompt, ready, connection]);
  return result;
}

export function QuestionPanel() {
  const { app, connection } = useAppServices();
  const { store, requests } = useAnalysis();
  const ready = useAppStore(app, (s) => s.connection === 'connected' && s.model != null);
  const contextLength = useAppStore(app, (s) => s.model?.contextLength ?? null);
  const runStatus = useAppStore(app, (s) => s.runStatus);
  const runError = useAppStore(app, (s) => s.error);
  const stopReason = useAppStore(app, (s) => s.stopReason);
  const pacingMs = useAppStore(app, (s) => s.pacingMs);
  const prompt = useAnalysisStore(store, (s) => s.prompt);
  const target = useAnalysisStore(store, (s) => s.target);
  const distractor = useAnalysisStore(store, (s) => s.distractor);
  const targetSplit = useAnalysisStore(store, (s) => s.targetSplit);
  const distractorSplit = useAnalysisStore(store, (s) => s.distractorSplit);
  const effectsStatus = useAnalysisStore(store, (s) => s.effectsStatus);
  const effects = useAnalysisStore(store, (s) => s.effects);
  const graphStatus = useAnalysisStore(store, (s) => s.graphStatus);
  const progress = useAnalysisStore(store, (s) => s.progress);
  const maxNodes = useAnalysisStore(store, (s) => s.maxNodes);
  const traceOver = useAnalysisStore(store, (s) => s.traceOver);
  const hasTranscoders = useAppStore(app, (s) => s.model?.transcoders != null);
  const overFeatures = hasTranscoders && traceOver === 'features';
  const warnings = useAnalysisStore(store, (s) => s.warnings);
  const analysisError = useAnalysisStore(store, (s) => s.error);
  const [maxTokens, setMaxTokens] = useState(12);
  const [noteOpen, setNoteOpen] = useState(false);
  const tokens = usePromptTokens(prompt, ready);

  useEffect(() => {
    if (!ready) return;
    const timer = setTimeout(() => void requests.previewSplits(), 250);
    return () => clearTimeout(timer);
  }, [ready, prompt, target, distractor, requests]);

  const running = runStatus === 'running' || runStatus === 'generating';
  const busy = running || effectsStatus === 'running' || graphStatus === 'running';
  const empty = prompt.trim().length === 0;
  const tooLong = tokens.count !== null && contextLength !== null && tokens.count > contextLength;
  const canRun = ready && !busy && !empty && !tooLong;
  const complete = target.length > 0 && distractor.length > 0;
  const share = progress && progress.total > 0 ? progress.done / progress.total : 0;
  /** The analysis running now (one at a time), whose progress and Cancel the panel shows. */
  const analysisRunning = graphStatus === 'running' ? 'trace' : effectsStatus === 'running' ? 'explain' : null;
  const preset = presets.find((p) => p.prompt === prompt && p.target === target && p.distractor === distractor);
  const shownError = runError && runStatus !== 'generating' ? plainError(runError) : null;

  const run = () => {
    if (canRun) void connection.runPrompt(prompt);
  };
  return (
    <section className="panel question-panel" data-testid="question-panel">
      <div className="panel-head">
        <h2>Question</h2>
        <select
          data-testid="preset-select"
          aria-label="examples"
          value={preset?.id ?? ''}
          onChange={(e) => {
            const chosen = presets.find((p) => p.id === e.target.value);
            if (chosen) store.setState({ prompt: chosen.prompt, target: chosen.target, distractor: chosen.distractor });
          }}
        >
          <option value="" disabled>Examples…</option>
          {presets.map((p) => <option key={p.id} value={p.id}>{p.title}</option>)}
        </select>
      </div>
      {preset && (
        <p className={noteOpen ? 'muted preset-note open' : 'muted preset-note'} data-testid="preset-note" title={noteOpen ? undefined : preset.description} onClick={() => setNoteOpen(!noteOpen)}>
          {preset.description}
        </p>
      )}
      <label htmlFor="prompt-input">Prompt</label>
      <textarea
        id="prompt-input"
        data-testid="prompt-input"
        rows={2}
        value={prompt}
        aria-invalid={tooLong || undefined}
        aria-describedby="prompt-help"
        onChange={(e) => store.setState({ prompt: e.target.value })}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey) {
            e.preventDefault();
            run();
          }
        }}
      />
      <div id="prompt-help" className={tooLong ? 'field-note bad' : 'field-note'} data-testid="token-counter" data-count={tokens.count ?? ''}>
        {empty
          ? 'Type a prompt (or pick an example) to run it.'
          : tokens.count === null
            ? tokens.error ?? ' '
            : `${tokens.count} / ${contextLength ?? '?'} tokens${tooLong ? ' — too long for this model; shorten it' : ''}`}
      </div>
      <div className="row">
        <button type="button" data-testid="run-button" disabled={!canRun} title={empty ? 'Type a prompt first' : undefined} onClick={run}>Run</button>
        {runStatus === 'generating' ? (
          <button type="button" data-testid="cancel-button" onClick={() => connection.cancel()}>Stop</button>
        ) : (
          <button type="button" data-testid="generate-button" disabled={!canRun} onClick={() => void connection.generate(prompt, maxTokens)}>Generate</button>
        )}
        <input
          type="number"
          min={1}
          max={256}
          value={maxTokens}
          title="tokens to generate"
          aria-label="tokens to generate"
          onChange={(e) => setMaxTokens(Math.max(1, Math.min(256, Number(e.target.value) || 1)))}
        />
        <select data-testid="pacing" aria-label="generation speed" title="how fast generated tokens appear" value={pacingMs} onChange={(e) => app.setState({ pacingMs: Number(e.target.value) })}>
          {pacingOptions.map((o) => <option key={o.ms} value={o.ms}>{o.label}</option>)}
        </select>
      </div>
      {stopReason && runStatus === 'idle' && <p className="muted" data-testid="stop-reason" data-reason={stopReason}>{stopReasonText[stopReason]}</p>}
      {shownError && <p className="error" role="alert" data-testid="run-error">{shownError}</p>}

      <div className="question-row">
        <div>
          <label htmlFor="analysis-target">Target</label>
          <input id="analysis-target" data-testid="analysis-target" type="text" value={target} onChange={(e) => store.setState({ target: e.target.value })} />
          <SplitPreview label="The target" split={targetSplit} testId="target-split" />
        </div>
        <div>
          <label htmlFor="analysis-distractor">Distractor</label>
          <input id="analysis-distractor" data-testid="analysis-distractor" type="text" value={distractor} onChange={(e) => store.setState({ distractor: e.target.value })} />
          <SplitPreview label="The distractor" split={distractorSplit} testId="distractor-split" />
        </div>
      </div>
      <div className="row">
        <button type="button" data-testid="explain-button" disabled={!ready || busy || empty || tooLong || !complete} title="Why the target rather than the distractor?" onClick={() => void requests.explain()}>
          {effectsStatus === 'running' ? 'Explaining…' : 'Explain'}
        </button>
        <button type="button" data-testid="trace-button" disabled={!ready || busy || empty || tooLong || !complete} onClick={() => void requests.trace()}>
          {hasTranscoders ? 'Trace' : 'Trace circuit'}
        </button>
        {hasTranscoders && (
          <select
            data-testid="trace-over"
            aria-label="trace over"
            title="what the circuit is traced over: MLP neurons, or the transcoders' sparse features (every active feature, exact, with error nodes)"
            style={{ width: 78, fontSize: 12 }}
            value={traceOver}
            onChange={(e) => store.setState({ traceOver: e.target.value as 'neurons' | 'features' })}
          >
            <option value="neurons">neurons</option>
            <option value="features">features</option>
          </select>
        )}
        <label className="inline" title={overFeatures ? 'a feature trace keeps every active feature (no node budget)' : 'how many neurons the trace expands (more: slower)'}>
          <input
            disabled={overFeatures}
            type="number"
            data-testid="max-nodes"
            aria-label="nodes to trace"
            min={1}
            max={2000}
            value={maxNodes}
            onChange={(e) => store.setState({ maxNodes: Math.max(1, Math.min(2000, Math.round(Number(e.target.value)) || 1)) })}
          />
        </label>
      </div>
      {!complete && !empty && <p className="field-note">Give a target and a distractor to Explain or Trace.</p>}
      {analysisRunning && (
        <div className="row" data-testid={`${analysisRunning}-progress`}>
          <progress max={1} value={share} />
          <span className="muted">{progress ? `${progress.done}/${progress.total}` : 'queued'}</span>
          <button
            type="button"
            data-testid={`cancel-${analysisRunning}`}
            onClick={() => (analysisRunning === 'trace' ? requests.cancelTrace() : requests.cancelExplain())}
          >
            Cancel
          </button>
        </div>
      )}
      {graphStatus === 'cancelled' && <p className="muted">Tracing cancelled.</p>}
      {effectsStatus === 'cancelled' && <p className="muted">Explain cancelled.</p>}
      {effects && (
        <p className="logit-diff" data-testid="logit-diff" data-value={effects.logitDiff}>
          Δ = logit[“{displayTokens([effects.target])[0]!.text}”] − logit[“{displayTokens([effects.distractor])[0]!.text}”] = <b>{effects.logitDiff.toFixed(3)}</b>
        </p>
      )}
      {warnings.map((warning, i) => <p key={i} className="warning" data-testid="analysis-warning">⚠ {warning}</p>)}
      {analysisError && <p className="error" role="alert" data-testid="analysis-error">{plainError(analysisError)}</p>}
    </section>
  );
}
