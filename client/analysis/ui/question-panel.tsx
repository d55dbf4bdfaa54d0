/**
 * The question: prompt, target and distractor, with how target and distractor tokenize after
 * the prompt (a clear warning when one is several tokens: the first is used). "Explain" asks
 * for the effects on Δ; "Trace circuit" for the attribution graph, with a node budget, a
 * progress bar and Cancel.
 */
import { useEffect } from 'react';
import { useAppServices } from '../../state/app-context.js';
import { useAppStore } from '../../state/app-store.js';
import { displayToken } from '../../scene/token-rail.js';
import { useAnalysis } from '../state/analysis-services.js';
import { useAnalysisStore, type TokenSplit } from '../state/analysis-store.js';

function SplitPreview({ label, split, testId }: { label: string; split: TokenSplit | null; testId: string }) {
  if (!split) return null;
  const several = split.tokens.length > 1;
  return (
    <div className={several ? 'token-split several' : 'token-split'} data-testid={testId} data-count={split.tokens.length}>
      {split.tokens.map((token, i) => (
        <span key={i} className={i === 0 ? 'chip used' : 'chip'} title={`id ${token.id}`}>{displayToken(token.text)}</span>
      ))}
      {several && (
        <span className="warning" data-testid={`${testId}-warning`}>
          ⚠ {label} is {split.tokens.length} tokens; only the first, “{displayToken(split.tokens[0]!.text)}”, is used
        </span>
      )}
    </div>
  );
}

export function QuestionPanel() {
  const { app } = useAppServices();
  const { store, requests } = useAnalysis();
  const ready = useAppStore(app, (s) => s.connection === 'connected' && s.model != null);
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
  const warnings = useAnalysisStore(store, (s) => s.warnings);
  const error = useAnalysisStore(store, (s) => s.error);

  useEffect(() => {
    if (!ready) return;
    const timer = setTimeout(() => void requests.previewSplits(), 250);
    return () => clearTimeout(timer);
  }, [ready, prompt, target, distractor, requests]);

  const busy = effectsStatus === 'running' || graphStatus === 'running';
  const complete = prompt.length > 0 && target.length > 0 && distractor.length > 0;
  const share = progress && progress.total > 0 ? progress.done / progress.total : 0;
  return (
    <section className="panel analysis-panel" data-testid="question-panel">
      <h2>Why the target, not the distractor?</h2>
      <label htmlFor="analysis-prompt">Prompt</label>
      <textarea id="analysis-prompt" data-testid="analysis-prompt" rows={2} value={prompt} onChange={(e) => store.setState({ prompt: e.target.value })} />
      <div className="question-row">
        <div>
          <label htmlFor="analysis-target">Target</label>
          <input id="analysis-target" data-testid="analysis-target" type="text" value={target} onChange={(e) => store.setState({ target: e.target.value })} />
        </div>
        <div>
          <label htmlFor="analysis-distractor">Distractor</label>
          <input id="analysis-distractor" data-testid="analysis-distractor" type="text" value={distractor} onChange={(e) => store.setState({ distractor: e.target.value })} />
        </div>
      </div>
      <SplitPreview label="The target" split={targetSplit} testId="target-split" />
      <SplitPreview label="The distractor" split={distractorSplit} testId="distractor-split" />
      <div className="row">
        <button type="button" data-testid="explain-button" disabled={!ready || busy || !complete} onClick={() => void requests.explain()}>
          {effectsStatus === 'running' ? 'Explaining…' : 'Explain'}
        </button>
        <button type="button" data-testid="trace-button" disabled={!ready || busy || !complete} onClick={() => void requests.trace()}>
          Trace circuit
        </button>
        <label className="inline">
          max nodes
          <input
            type="number"
            data-testid="max-nodes"
            min={1}
            max={2000}
            value={maxNodes}
            onChange={(e) => store.setState({ maxNodes: Math.max(1, Math.min(2000, Math.round(Number(e.target.value)) || 1)) })}
          />
        </label>
      </div>
      {graphStatus === 'running' && (
        <div className="row" data-testid="trace-progress">
          <progress max={1} value={share} />
          <span className="muted">{progress ? `${progress.done}/${progress.total}` : 'queued'}</span>
          <button type="button" data-testid="cancel-trace" onClick={() => requests.cancelTrace()}>Cancel</button>
        </div>
      )}
      {graphStatus === 'cancelled' && <p className="muted">Tracing cancelled.</p>}
      {effects && (
        <p className="logit-diff" data-testid="logit-diff" data-value={effects.logitDiff}>
          Δ = logit[“{displayToken(effects.target.text)}”] − logit[“{displayToken(effects.distractor.text)}”] = <b>{effects.logitDiff.toFixed(3)}</b>
        </p>
      )}
      {warnings.map((warning, i) => <p key={i} className="warning" data-testid="analysis-warning">⚠ {warning}</p>)}
      {error && <p className="error" data-testid="analysis-error">{error}</p>}
    </section>
  );
}
