/**
 * One question, one state, one link. Ties the app store (the run on screen), the analysis store
 * (the question and its answers) and the address bar together:
 * - at start, the question comes from the link (see client/state/url-state.ts) or, on a plain
 *   visit, the default example (shared/presets.ts); once the model is ready the link's action is
 *   replayed (run, explain or trace), then its position, neuron, pins, supernodes and thresholds
 *   applied;
 * - a new run clears the answers that no longer apply: Δ, token effects, their warnings and
 *   error belong to the prompt they were computed for, and go when the rail shows other tokens;
 * - the address bar follows the view (replaceState, debounced).
 * Returns a cleanup.
 */
import { defaultPreset } from '../../shared/presets.js';
import type { AppServices } from '../state/app-context.js';
import { decodeViewState, encodeViewState, type ViewAction, type ViewState } from '../state/url-state.js';
import { uiPrefs } from '../state/ui-prefs.js';
import type { AnalysisServices } from '../analysis/state/analysis-services.js';
import { groupNodes, setThresholds, togglePin } from '../analysis/state/circuit.js';
import { exportGraph } from '../../shared/graph/io.js';
import type { AttributionGraph } from '../../shared/graph/schema.js';
import { saveRecentGraph } from '../state/recent-graphs.js';

/** Graphs reopened from the recent list: not saved again. */
export const reopenedGraphs = new WeakSet<AttributionGraph>();

/** The view as the link describes it. */
export function currentViewState(services: AppServices, analysis: AnalysisServices): ViewState {
  const app = services.app.getState();
  const a = analysis.store.getState();
  let action: ViewAction | undefined;
  if (a.graph && a.graphSource?.kind === 'traced') action = 'trace';
  else if (a.effects) action = 'explain';
  else if (app.tokens.length > 0) action = 'run';
  return {
    prompt: a.prompt,
    target: a.target,
    distractor: a.distractor,
    action,
    position: app.tokens.length > 0 ? app.position : undefined,
    neuron: app.selection ?? undefined,
    tab: uiPrefs.getState().analysisTab === 'features' ? undefined : uiPrefs.getState().analysisTab as 'effects' | 'neurons' | 'circuit',
    neuronMeasure: a.neuronMeasure,
    tokenMeasure: a.tokenMeasure,
    pins: action === 'trace' ? a.pinnedIds : undefined,
    supernodes: action === 'trace' ? a.supernodes : undefined,
    maxNodes: a.maxNodes,
    nodeThreshold: action === 'trace' ? a.nodeThreshold : undefined,
    edgeThreshold: action === 'trace' ? a.edgeThreshold : undefined,
  };
}

export function viewLink(services: AppServices, analysis: AnalysisServices): string {
  return `${window.location.origin}${window.location.pathname}${encodeViewState(currentViewState(services, analysis), window.location.search)}`;
}

const sameTokens = (a: readonly { id: number }[], b: readonly { id: number }[]) => a.length === b.length && a.every((t, i) => t.id === b[i]!.id);

export function setupViewSession(services: AppServices, analysis: AnalysisServices): () => void {
  const { app, connection } = services;
  const { store, requests } = analysis;
  const linked = decodeViewState(window.location.search);
  const fromLink = linked.prompt !== undefined;
  store.setState({
    prompt: linked.prompt ?? defaultPreset.prompt,
    target: linked.target ?? (fromLink ? '' : defaultPreset.target),
    distractor: linked.distractor ?? (fromLink ? '' : defaultPreset.distractor),
    ...(linked.neuronMeasure ? { neuronMeasure: linked.neuronMeasure } : {}),
    ...(linked.tokenMeasure ? { tokenMeasure: linked.tokenMeasure } : {}),
    ...(linked.maxNodes ? { maxNodes: linked.maxNodes } : {}),
  });
  if (linked.tab) uiPrefs.setState({ analysisTab: linked.tab });

  let restoring = true;
  const replay = async () => {
    const prompt = store.getState().prompt;
    try {
      if (linked.action === 'explain') await requests.explain();
      else if (linked.action === 'trace') await requests.trace();
      else if (prompt.length > 0) await connection.runPrompt(prompt);
      const a = store.getState();
      if (linked.action === 'trace' && a.prune) {
        if (linked.nodeThreshold !== undefined || linked.edgeThreshold !== undefined) {
          setThresholds(store, { nodeThreshold: linked.nodeThreshold ?? a.nodeThreshold, edgeThreshold: linked.edgeThreshold ?? a.edgeThreshold });
        }
        const known = new Set(a.graph?.nodes.map((n) => n.node_id) ?? []);
        for (const id of linked.pins ?? []) if (known.has(id) && !store.getState().pinnedIds.includes(id)) togglePin(store, id);
        for (const [label, ...ids] of linked.supernodes ?? []) groupNodes(store, label!, ids.filter((id) => known.has(id)));
      }
      const { tokens, model } = app.getState();
      if (linked.position !== undefined && tokens.length > 0) app.setState({ position: Math.min(tokens.length - 1, linked.position), followLive: false });
      const n = linked.neuron;
      if (n && model && n.layer < model.nLayers && n.neuron < model.neuronsPerLayer) app.setState({ selection: n });
    } finally {
      // The results tab follows a finished Explain or Trace (analysis-panels.tsx) once React has
      // rendered it, which on a busy page can take a while: wait for that switch (at most 5 s),
      // then put the link's tab back.
      const autoTab = linked.action === 'explain' ? 'effects' : linked.action === 'trace' ? 'circuit' : null;
      const restoreTab = () => {
        if (linked.tab) uiPrefs.setState({ analysisTab: linked.tab });
        restoring = false;
      };
      if (!autoTab || !linked.tab || linked.tab === autoTab || uiPrefs.getState().analysisTab === autoTab) {
        setTimeout(restoreTab, 100);
      } else {
        let unsubscribe = () => {};
        const timer = setTimeout(() => { unsubscribe(); restoreTab(); }, 5000);
        unsubscribe = uiPrefs.subscribe(() => {
          if (uiPrefs.getState().analysisTab !== autoTab) return;
          clearTimeout(timer);
          unsubscribe();
          setTimeout(restoreTab, 0);
        });
      }
    }
  };

  // Replay once, when the model is first ready.
  let replayed = false;
  const maybeReplay = () => {
    const s = app.getState();
    if (replayed || s.connection !== 'connected' || !s.model) return;
    replayed = true;
    // A room's audience shows the presenter's run (client/state/room.ts), not its own.
    const auth = connection.backend.auth as { room?: unknown; control?: unknown } | undefined;
    if (typeof auth?.room === 'string' && typeof auth.control !== 'string') {
      restoring = false;
      return;
    }
    void replay();
  };
  const unsubscribeReady = app.subscribe(maybeReplay);
  maybeReplay();

  // Answers that no longer apply: computed for other tokens than the rail now shows.
  const unsubscribeStale = app.subscribe((state, previous) => {
    if (state.tokens === previous.tokens || state.tokens.length === 0) return;
    const { effects } = store.getState();
    const generated = state.promptLength !== null && state.tokens.length > state.promptLength;
    if (effects && (generated || !sameTokens(effects.tokens, state.tokens))) {
      store.setState({ effects: null, warnings: [], error: null, effectsStatus: 'idle' });
    }
  });

  // Every newly traced circuit is kept in the browser (IndexedDB) to reopen later.
  const unsubscribeRecent = store.subscribe((state, previous) => {
    if (!state.graph || state.graph === previous.graph || state.graphSource?.kind !== 'traced' || reopenedGraphs.has(state.graph)) return;
    const graph = state.graph;
    const { prompt, target, distractor } = state;
    void saveRecentGraph({
      id: `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`,
      savedAt: Date.now(), prompt: graph.metadata.prompt || prompt, target, distractor, nodes: graph.nodes.length, json: exportGraph(graph),
    });
  });

  // The address bar follows the view.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const write = () => {
    timer = undefined;
    if (restoring) return;
    const query = encodeViewState(currentViewState(services, analysis), window.location.search);
    if (query !== window.location.search) window.history.replaceState(null, '', `${window.location.pathname}${query}${window.location.hash}`);
  };
  const schedule = () => {
    if (timer === undefined) timer = setTimeout(write, 300);
  };
  const unsubscribes = [app.subscribe(schedule), store.subscribe(schedule), uiPrefs.subscribe(schedule)];
  return () => {
    unsubscribeReady();
    unsubscribeStale();
    unsubscribeRecent();
    unsubscribes.forEach((u) => u());
    if (timer !== undefined) clearTimeout(timer);
  };
}
