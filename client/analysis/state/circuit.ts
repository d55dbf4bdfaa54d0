/**
 * The circuit's live state: load a graph (traced or imported), index it once, re-prune it when
 * a threshold or a pin changes, and work out which kept links lie on a path through the focused
 * nodes (the selected or grabbed neuron or token). Plain functions over the stores.
 */
import { graphIndex } from '../../../shared/graph/io.js';
import { pruneGraph, type PruneResult } from '../../../shared/graph/prune.js';
import { nodeKind, type AttributionGraph } from '../../../shared/graph/schema.js';
import type { GraphIndex } from '../../../shared/graph/io.js';
import type { AppState, AppStore } from '../../state/app-store.js';
import { initialAnalysisState, type AnalysisState, type AnalysisStore, type CircuitHighlight, type GraphSource } from './analysis-store.js';

export function loadGraph(store: AnalysisStore, graph: AttributionGraph, source: GraphSource): void {
  const index = graphIndex(graph);
  const known = new Set(index.nodeIds);
  // Our traced graphs arrive unpruned: prune at the defaults. An imported graph was usually
  // pruned by the tool that made it: show all of it (threshold 1), the sliders prune further.
  const traced = source.kind === 'traced';
  const nodeThreshold = traced ? initialAnalysisState.nodeThreshold : 1;
  const edgeThreshold = traced ? initialAnalysisState.edgeThreshold : 1;
  const pinnedIds = graph.qParams.pinnedIds.filter((id) => known.has(id));
  // One update: graph, index and prune always belong together (subscribers index buffers by them).
  try {
    const prune = pruneGraph(index, { nodeThreshold, edgeThreshold, pinnedIds });
    store.setState({ graph, graphIndex: index, graphSource: source, nodeThreshold, edgeThreshold, pinnedIds, prune, focusNodeId: null, error: null });
  } catch (error) {
    store.setState({ error: `cannot prune this graph: ${(error as Error).message}` });
  }
}

/** Prunes the loaded graph with the current thresholds and pins (synchronous, O(N + E)). */
export function reprune(store: AnalysisStore): void {
  const { graphIndex: index, nodeThreshold, edgeThreshold, pinnedIds } = store.getState();
  if (!index) return;
  try {
    const prune = pruneGraph(index, { nodeThreshold, edgeThreshold, pinnedIds });
    store.setState({ prune });
  } catch (error) {
    store.setState({ error: (error as Error).message });
  }
}

export function setThresholds(store: AnalysisStore, thresholds: { nodeThreshold?: number; edgeThreshold?: number }): void {
  store.setState(thresholds);
  reprune(store);
}

export function togglePin(store: AnalysisStore, nodeId: string): void {
  const { pinnedIds } = store.getState();
  store.setState({ pinnedIds: pinnedIds.includes(nodeId) ? pinnedIds.filter((id) => id !== nodeId) : [...pinnedIds, nodeId] });
  reprune(store);
}

/** The kept node ids a grab or selection refers to: every position of a neuron, a token's embedding. */
export function focusNodeIds(app: Pick<AppState, 'grabbed' | 'selection'>, analysis: Pick<AnalysisState, 'graph' | 'prune' | 'focusNodeId'>): string[] {
  const { graph, prune } = analysis;
  if (!graph || !prune) return [];
  const kept = new Set(prune.keptNodeIds);
  const ids: string[] = [];
  const grabbed = app.grabbed;
  const neuron = grabbed?.kind === 'neuron' ? grabbed : grabbed ? null : app.selection;
  for (const node of graph.nodes) {
    if (!kept.has(node.node_id)) continue;
    const kind = nodeKind(node);
    if (grabbed?.kind === 'token' && kind === 'embedding' && node.ctx_idx === grabbed.position) ids.push(node.node_id);
    else if (neuron && kind === 'feature' && node.layer === String(neuron.layer) && node.feature === neuron.neuron) ids.push(node.node_id);
  }
  if (!grabbed && analysis.focusNodeId && kept.has(analysis.focusNodeId) && !ids.includes(analysis.focusNodeId)) ids.push(analysis.focusNodeId);
  return ids;
}

/**
 * Kept links on some path through a focus node: links into the focus's ancestors (upstream,
 * including the focus) and links out of its descendants (downstream, including the focus).
 */
export function circuitHighlight(index: GraphIndex, prune: PruneResult, focusIds: readonly string[]): CircuitHighlight {
  const links = prune.keptLinkIndices;
  const mask = new Uint8Array(links.length);
  if (focusIds.length === 0) return { focusIds: [], linkMask: mask, count: 0 };
  const n = index.nodeIds.length;
  const upstream = new Uint8Array(n); // reaches a focus node (or is one)
  const downstream = new Uint8Array(n); // reached from a focus node (or is one)
  for (const id of focusIds) {
    const i = index.indexOf.get(id);
    if (i !== undefined) upstream[i] = downstream[i] = 1;
  }
  // Kept links form a DAG; relax until stable (a handful of sweeps: graphs are a few layers deep).
  for (let changed = true; changed;) {
    changed = false;
    for (let r = 0; r < links.length; r++) {
      const k = links[r]!;
      const s = index.edgeSources[k]!;
      const t = index.edgeTargets[k]!;
      if (upstream[t] && !upstream[s]) upstream[s] = 1, changed = true;
      if (downstream[s] && !downstream[t]) downstream[t] = 1, changed = true;
    }
  }
  let count = 0;
  for (let r = 0; r < links.length; r++) {
    const k = links[r]!;
    if (upstream[index.edgeTargets[k]!] || downstream[index.edgeSources[k]!]) {
      mask[r] = 1;
      count++;
    }
  }
  return { focusIds: [...focusIds], linkMask: mask, count };
}

/**
 * Keeps `highlight` in step with the app's selection and grab and the analysis store's prune
 * result and focused node. Returns the cleanup.
 */
export function setupCircuitHighlight(analysis: AnalysisStore, app: AppStore): () => void {
  let last = { prune: null as PruneResult | null, key: '' };
  const update = () => {
    const a = analysis.getState();
    const ids = focusNodeIds(app.getState(), a);
    const key = ids.join(',');
    if (a.prune === last.prune && key === last.key) return;
    last = { prune: a.prune, key };
    const highlight = a.prune && a.graphIndex
      ? circuitHighlight(a.graphIndex, a.prune, ids)
      : { focusIds: [], linkMask: new Uint8Array(0), count: 0 };
    analysis.setState({ highlight });
  };
  const offApp = app.subscribe(update);
  const offAnalysis = analysis.subscribe(update);
  update();
  return () => {
    offApp();
    offAnalysis();
  };
}
