/**
 * The circuit's live state: load a graph (traced or imported; parsed, indexed and pruned in the
 * graph worker), re-prune it there when a threshold, the node budget or a pin changes, group
 * nodes into supernodes, and work out which kept links lie on a path through the focused
 * nodes (the selected or grabbed neuron or token). Plain functions over the stores.
 */
import type { PruneOptions, PruneResult } from '../../../shared/graph/prune.js';
import { nodeKind, type AttributionGraph } from '../../../shared/graph/schema.js';
import type { GraphIndex } from '../../../shared/graph/io.js';
import type { AppState, AppStore } from '../../state/app-store.js';
import { createGraphWorkerClient, type GraphInput, type GraphWorkerClient } from '../worker/graph-worker-client.js';
import { groupPrefix } from './circuit-view.js';
import { initialAnalysisState, type AnalysisState, type AnalysisStore, type CircuitHighlight, type GraphSource } from './analysis-store.js';

/** One graph worker per analysis store, and what each store last asked it for. */
const workers = new WeakMap<AnalysisStore, { client: GraphWorkerClient; loads: number; rerun: boolean; busy: boolean }>();

function workerFor(store: AnalysisStore) {
  let entry = workers.get(store);
  if (!entry) {
    entry = { client: createGraphWorkerClient(), loads: 0, rerun: false, busy: false };
    workers.set(store, entry);
  }
  return entry;
}

function pruneOptions(state: Pick<AnalysisState, 'nodeThreshold' | 'edgeThreshold' | 'pinnedIds' | 'nodeBudget'>, pinnedIds?: string[]): PruneOptions {
  return { nodeThreshold: state.nodeThreshold, edgeThreshold: state.edgeThreshold, pinnedIds: pinnedIds ?? state.pinnedIds, maxNodes: state.nodeBudget };
}

/**
 * Loads a graph (JSON text as it arrives, or a parsed graph): parsing, indexing and pruning run
 * in the graph worker, so the page stays responsive; the store changes once, when all is ready.
 * A newer load supersedes an older one still in the worker. Resolves when the store is updated
 * (or the load was superseded); errors land in `error` and reject.
 */
export async function loadGraph(store: AnalysisStore, input: AttributionGraph | GraphInput, source: GraphSource): Promise<void> {
  const worker = workerFor(store);
  const load = ++worker.loads;
  // Our traced graphs arrive unpruned: prune at the defaults. An imported graph was usually
  // pruned by the tool that made it: thresholds 1 (all of it), the node budget and sliders prune further.
  const traced = source.kind === 'traced';
  const nodeThreshold = traced ? initialAnalysisState.nodeThreshold : 1;
  const edgeThreshold = traced ? initialAnalysisState.edgeThreshold : 1;
  const nodeBudget = store.getState().nodeBudget;
  store.setState({ pruning: true });
  try {
    const options: PruneOptions = { nodeThreshold, edgeThreshold, maxNodes: nodeBudget };
    const loaded = await worker.client.load('text' in input || 'blob' in input || 'graph' in input ? input : { graph: input }, options);
    if (load !== worker.loads) return;
    const known = loaded.index.indexOf;
    const supernodes = loaded.graph.qParams.supernodes
      .map(([label, ...ids]) => [label ?? 'group', ...ids.filter((id) => known.has(id))])
      .filter((group) => group.length > 2);
    // One update: graph, index and prune always belong together (subscribers index buffers by them).
    store.setState({
      graph: loaded.graph, graphIndex: loaded.index, graphSource: source, nodeThreshold, edgeThreshold, pinnedIds: loaded.pinnedIds,
      supernodes, prune: loaded.prune, pruning: false, focusNodeId: null, hoverNodeId: null, error: null,
    });
  } catch (error) {
    if (load !== worker.loads) return;
    store.setState({ pruning: false, error: `cannot load this graph: ${(error as Error).message}` });
    throw error;
  }
}

/**
 * Prunes the loaded graph again with the current thresholds, pins and budget, in the worker.
 * While one prune runs, further changes coalesce into one more run with the newest settings.
 */
export async function reprune(store: AnalysisStore): Promise<void> {
  const worker = workerFor(store);
  if (!store.getState().graphIndex) return;
  if (worker.busy) {
    worker.rerun = true;
    return;
  }
  worker.busy = true;
  store.setState({ pruning: true });
  try {
    do {
      worker.rerun = false;
      const loads = worker.loads;
      const asked = pruneOptions(store.getState());
      try {
        const prune = await worker.client.prune(asked);
        if (loads === worker.loads && !worker.rerun) store.setState({ prune, error: null });
      } catch (error) {
        if (loads === worker.loads) store.setState({ error: (error as Error).message });
      }
    } while (worker.rerun);
  } finally {
    worker.busy = false;
    store.setState({ pruning: false });
  }
}

export function setThresholds(store: AnalysisStore, thresholds: { nodeThreshold?: number; edgeThreshold?: number; nodeBudget?: number }): void {
  store.setState(thresholds);
  void reprune(store);
}

export function togglePin(store: AnalysisStore, nodeId: string): void {
  const { pinnedIds } = store.getState();
  store.setState({ pinnedIds: pinnedIds.includes(nodeId) ? pinnedIds.filter((id) => id !== nodeId) : [...pinnedIds, nodeId] });
  void reprune(store);
}

/** Groups nodes into a named supernode (each node belongs to one group at most: older groups lose it). */
export function groupNodes(store: AnalysisStore, label: string, nodeIds: readonly string[]): void {
  const ids = [...new Set(nodeIds)];
  if (ids.length < 2) return;
  const rest = store.getState().supernodes
    .map(([name, ...members]) => [name!, ...members.filter((id) => !ids.includes(id))])
    .filter((group) => group.length > 2);
  store.setState({ supernodes: [...rest, [label.trim() || `group ${rest.length + 1}`, ...ids]] });
}

export function ungroup(store: AnalysisStore, label: string): void {
  store.setState({ supernodes: store.getState().supernodes.filter(([name]) => name !== label) });
}

/** The kept node ids a grab or selection refers to: every position of a neuron, a token's embedding. */
export function focusNodeIds(app: Pick<AppState, 'grabbed' | 'selection'>, analysis: Pick<AnalysisState, 'graph' | 'prune' | 'focusNodeId' | 'supernodes'>): string[] {
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
  if (!grabbed && analysis.focusNodeId?.startsWith(groupPrefix)) {
    // A supernode: paths through any of its members.
    const group = analysis.supernodes.find(([label]) => `${groupPrefix}${label}` === analysis.focusNodeId);
    for (const id of group?.slice(1) ?? []) if (kept.has(id) && !ids.includes(id)) ids.push(id);
  } else if (!grabbed && analysis.focusNodeId && kept.has(analysis.focusNodeId) && !ids.includes(analysis.focusNodeId)) ids.push(analysis.focusNodeId);
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
