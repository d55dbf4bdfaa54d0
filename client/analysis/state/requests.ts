/**
 * The analysis requests over the app's socket (acknowledgements, see shared/protocol.ts):
 * tokenize target/distractor after the prompt, effects on Δ ("Explain"), and the attribution
 * graph ("Trace circuit") with progress and cancellation. Results land in the analysis store.
 */
import type { Ack, EffectsResult, ErrorEvent, GraphResult, TokenInfo } from '../../../shared/protocol.js';
import type { Connection } from '../../state/connection.js';
import type { AnalysisStore, TokenSplit } from './analysis-store.js';
import { loadGraph } from './circuit.js';

/** Node budgets above this ask for confirmation before tracing. */
export const largeTraceNodes = 1000;

type AckResponse<T> = Parameters<Ack<T>>[0];

function unwrap<T>(response: AckResponse<T>): T {
  if (!response.ok) throw new AnalysisRequestError(response.error);
  return response.value;
}

export class AnalysisRequestError extends Error {
  constructor(readonly event: ErrorEvent) {
    super(`${event.code}: ${event.message}`);
  }
}

export interface AnalysisRequests {
  /** How target and distractor tokenize after the prompt (for the warnings as the user types). */
  previewSplits(): Promise<void>;
  explain(): Promise<void>;
  /** Traces the circuit; over `largeTraceNodes` nodes it first asks (traceConfirm) unless `confirmed`. */
  trace(confirmed?: boolean): Promise<void>;
  cancelTrace(): void;
  /** Stops the running Explain (at its next step on the server). */
  cancelExplain(): void;
  dispose(): void;
}

/** Special tokens (BOS and friends) that a bare tokenize may prepend. */
const special = (token: TokenInfo) => /^<[^>]*>$/.test(token.text);

export function createAnalysisRequests(store: AnalysisStore, connection: Connection, runPrompt: (prompt: string) => Promise<void>): AnalysisRequests {
  const socket = connection.backend;
  const tokenize = (text: string) => new Promise<TokenInfo[]>((resolve, reject) => {
    socket.emit('tokenize', text, (response) => {
      try {
        resolve(unwrap(response));
      } catch (error) {
        reject(error);
      }
    });
  });

  /** The tokens `text` adds after `prompt`, as the server resolves the question. */
  const split = async (prompt: string, promptTokens: TokenInfo[], text: string): Promise<TokenSplit | null> => {
    if (text.length === 0) return null;
    const full = await tokenize(prompt + text);
    if (full.length > promptTokens.length && promptTokens.every((t, i) => full[i]!.id === t.id)) {
      return { text, tokens: full.slice(promptTokens.length) };
    }
    return { text, tokens: (await tokenize(text)).filter((t) => !special(t)) };
  };

  let previewGeneration = 0;
  /** The prompt last run for the rail and clouds, so tracing alone still shows its prompt. */
  let shownPrompt: string | null = null;
  const showPrompt = async (prompt: string) => {
    shownPrompt = prompt;
    await runPrompt(prompt);
  };
  let pendingCancel = false;
  /** Graph runs that ended (done or cancelled): late progress events of theirs are ignored. */
  const endedRuns = new Set<string>();

  const onProgress = (runId: string, done: number, total: number) => {
    const state = store.getState();
    if (endedRuns.has(runId)) return;
    if (state.effectsStatus === 'running') {
      store.setState({ effectsRunId: runId, progress: { done, total } });
      if (pendingCancel) {
        pendingCancel = false;
        endedRuns.add(runId);
        socket.emit('run:cancel', runId);
      }
      return;
    }
    if (state.graphStatus !== 'running') return;
    if (state.graphRunId && state.graphRunId !== runId) return;
    store.setState({ graphRunId: runId, progress: { done, total } });
    if (pendingCancel) {
      pendingCancel = false;
      endedRuns.add(runId);
      socket.emit('run:cancel', runId);
    }
  };
  socket.on('analysis:progress', onProgress);
  /** Cancels the running analysis; its run id arrives with the first progress event, so
   * without one yet the cancel goes out when it comes. */
  const cancelRun = (runId: string | null) => {
    if (runId) {
      endedRuns.add(runId);
      socket.emit('run:cancel', runId);
    } else {
      pendingCancel = true;
    }
  };

  return {
    async previewSplits() {
      const generation = ++previewGeneration;
      const { prompt, target, distractor } = store.getState();
      try {
        const promptTokens = prompt.length > 0 ? await tokenize(prompt) : [];
        const [targetSplit, distractorSplit] = await Promise.all([split(prompt, promptTokens, target), split(prompt, promptTokens, distractor)]);
        if (generation === previewGeneration) store.setState({ targetSplit, distractorSplit });
      } catch {
        // Not connected yet, or the text is too long: the previews stay empty; Explain reports errors.
      }
    },

    async explain() {
      const { prompt, target, distractor } = store.getState();
      pendingCancel = false;
      store.setState({ effectsStatus: 'running', effectsRunId: null, progress: null, error: null });
      try {
        // Run the prompt too, so the rail and the clouds show it under the effects.
        await showPrompt(prompt);
        const result = await new Promise<EffectsResult>((resolve, reject) => {
          socket.emit('analysis:effects', { prompt, target, distractor }, (response) => {
            try {
              resolve(unwrap(response));
            } catch (error) {
              reject(error);
            }
          });
        });
        store.setState({
          effectsStatus: 'done',
          effects: { ...result, neuronDirect: new Float32Array(result.neuronDirect.slice(0)), neuronTotal: new Float32Array(result.neuronTotal.slice(0)) },
          targetSplit: { text: target, tokens: result.targetTokens },
          distractorSplit: { text: distractor, tokens: result.distractorTokens },
          warnings: result.warnings,
        });
      } catch (error) {
        const cancelled = error instanceof AnalysisRequestError && error.event.code === 'cancelled';
        store.setState({ effectsStatus: cancelled ? 'cancelled' : 'error', error: cancelled ? null : (error as Error).message });
      } finally {
        const { effectsRunId } = store.getState();
        if (effectsRunId) endedRuns.add(effectsRunId);
      }
    },

    cancelExplain() {
      const { effectsStatus, effectsRunId } = store.getState();
      if (effectsStatus === 'running') cancelRun(effectsRunId);
    },

    async trace(confirmed = false) {
      const { prompt, target, distractor, maxNodes, traceOver } = store.getState();
      const over = traceOver;
      // A very large budget takes minutes and a big graph: ask first (the panel shows the question).
      if (over === 'neurons' && maxNodes > largeTraceNodes && !confirmed) {
        store.setState({ traceConfirm: maxNodes });
        return;
      }
      pendingCancel = false;
      store.setState({ graphStatus: 'running', graphRunId: null, progress: null, error: null, traceConfirm: null });
      try {
        if (shownPrompt !== prompt) await showPrompt(prompt);
        const result = await new Promise<GraphResult>((resolve, reject) => {
          socket.emit('analysis:graph', { prompt, target, distractor, maxNodes, ...(over === 'features' ? { over } : {}) }, (response) => {
            try {
              resolve(unwrap(response));
            } catch (error) {
              reject(error);
            }
          });
        });
        endedRuns.add(result.runId);
        store.setState({ graphRunId: result.runId, warnings: result.warnings });
        // Parsing and pruning happen in the graph worker: the page stays responsive meanwhile.
        await loadGraph(store, { text: result.graph }, { kind: 'traced' });
        store.setState({ graphStatus: 'done' });
      } catch (error) {
        const cancelled = error instanceof AnalysisRequestError && error.event.code === 'cancelled';
        store.setState({ graphStatus: cancelled ? 'cancelled' : 'error', error: cancelled ? null : (error as Error).message });
      }
    },

    cancelTrace() {
      const { graphStatus, graphRunId } = store.getState();
      if (graphStatus === 'running') cancelRun(graphRunId);
    },

    dispose() {
      socket.off('analysis:progress', onProgress);
    },
  };
}
