/**
 * Attribution graph pruning as circuit-tracer's `prune_graph` does it (INTERP.md), on sparse
 * edge lists so the client can re-prune live.
 *
 * Legend: N nodes, E links. A[t][s] = weight of link s → t (rows are targets). Â = |A| with each
 * row normalised to sum 1 (rows summing to 0 stay 0). w weights the logit nodes: token_prob, or 1
 * when there is a single logit (the Δ node); uniform 1 when no logit has a probability.
 * Influence I = w·(Â + Â² + …). The graph is a DAG, so instead of iterating the power series we
 * solve y = w + y·Â in one pass over the nodes in reverse topological order (targets before
 * sources); I = y − w. Same numbers, O(N + E).
 *
 * Steps: (1) I on the full graph; keep the candidates (feature and error nodes) with
 * I ≥ find_threshold(I over candidates, nodeThreshold), plus pinned nodes, capped at maxNodes;
 * embeddings and logits always kept. (2) Rebuild Â on the kept nodes, recompute I there, score
 * edges by Â[t,s]·(I[t] + w[t]) and keep scores ≥ find_threshold(scores, edgeThreshold).
 * (3) Drop feature/error nodes with no kept outgoing edge and feature nodes with no kept incoming
 * edge, until stable (pinned, embedding and logit nodes stay).
 *
 * One deliberate difference, switchable: circuit-tracer's node threshold ranks every node,
 * embeddings included, against the total of all nodes. By default we rank only the candidates
 * (INTERP.md: "embeddings and logits always kept"), so nodeCoverage is comparable to the node
 * threshold; `thresholdScope: 'all'` reproduces circuit-tracer exactly.
 */
import { graphIndex, type GraphIndex } from './io.js';
import type { AttributionGraph, GraphLink } from './schema.js';

export interface PruneOptions {
  /** Share of influence the kept candidate nodes must cover (0..1, default 0.8). */
  nodeThreshold?: number;
  /** Share of edge score the kept edges must cover (0..1, default 0.98). */
  edgeThreshold?: number;
  /** Node ids always kept. */
  pinnedIds?: readonly string[];
  /** Most feature/error nodes kept (pinned first, then by influence). Default: no cap. */
  maxNodes?: number;
  /** Which nodes the node threshold ranks: 'candidates' (default) or 'all' (circuit-tracer). */
  thresholdScope?: 'candidates' | 'all';
}

export interface PruneResult {
  /** In the graph's node order. */
  keptNodeIds: string[];
  /** In the graph's link order. */
  keptLinks: GraphLink[];
  /** Indices into graph.links of keptLinks. */
  keptLinkIndices: Int32Array;
  /** Share of the ranked nodes' total influence (full graph) held by the finally kept nodes. */
  nodeCoverage: number;
  /** The same share for the node-threshold selection, before edge pruning dropped nodes. */
  selectedNodeCoverage: number;
  /** Share of the total edge score (on the node-pruned graph) held by the kept edges. */
  edgeCoverage: number;
  /** I per node id, on the full graph (logits: 0). */
  nodeInfluence: Map<string, number>;
  /** circuit-tracer's `influence` field: cumulative share of I over all nodes, sorted by I
   * descending (ties in node order); logits are absent (circuit-tracer writes null). */
  cumulativeInfluence: Map<string, number>;
}

/** Compressed rows of the adjacency: for target t, its links are linkOf[rowStart[t] .. rowStart[t+1]). */
interface Rows {
  rowStart: Int32Array; // [N+1]
  linkOf: Int32Array; // [E]
}

function rowsBy(keys: Int32Array, n: number): Rows {
  const rowStart = new Int32Array(n + 1);
  for (let k = 0; k < keys.length; k++) rowStart[keys[k]! + 1]!++;
  for (let i = 0; i < n; i++) rowStart[i + 1]! += rowStart[i]!;
  const fill = rowStart.slice(0, n);
  const linkOf = new Int32Array(keys.length);
  for (let k = 0; k < keys.length; k++) linkOf[fill[keys[k]!]!++] = k;
  return { rowStart, linkOf };
}

/** Nodes ordered so every link goes from an earlier to a later node (Kahn). Throws on a cycle. */
function topologicalOrder(index: GraphIndex, bySource: Rows): Int32Array {
  const n = index.nodeIds.length;
  const indegree = new Int32Array(n);
  for (const t of index.edgeTargets) indegree[t]!++;
  const order = new Int32Array(n);
  let head = 0;
  let tail = 0;
  for (let i = 0; i < n; i++) if (indegree[i] === 0) order[tail++] = i;
  while (head < tail) {
    const s = order[head++]!;
    for (let r = bySource.rowStart[s]!; r < bySource.rowStart[s + 1]!; r++) {
      const t = index.edgeTargets[bySource.linkOf[r]!]!;
      if (--indegree[t] === 0) order[tail++] = t;
    }
  }
  if (tail < n) {
    const stuck = indegree.findIndex((d) => d > 0);
    throw new Error(`pruneGraph: the graph has a cycle through node "${index.nodeIds[stuck]}"; influence needs a DAG`);
  }
  return order;
}

/**
 * y = w + y·Â restricted to links with linkAlive[k]; returns y (I = y − w) and fills
 * normalised[k] = Â entry of link k (0 for dead links).
 */
function propagate(index: GraphIndex, byTarget: Rows, order: Int32Array, w: Float64Array, linkAlive: Uint8Array, normalised: Float64Array): Float64Array {
  const n = index.nodeIds.length;
  const weights = index.edgeWeights;
  const y = Float64Array.from(w);
  for (let o = n - 1; o >= 0; o--) {
    const t = order[o]!;
    const start = byTarget.rowStart[t]!;
    const end = byTarget.rowStart[t + 1]!;
    let rowSum = 0;
    for (let r = start; r < end; r++) {
      const k = byTarget.linkOf[r]!;
      if (linkAlive[k]) rowSum += Math.abs(weights[k]!);
    }
    for (let r = start; r < end; r++) {
      const k = byTarget.linkOf[r]!;
      const a = linkAlive[k] && rowSum > 0 ? Math.abs(weights[k]!) / rowSum : 0;
      normalised[k] = a;
      if (a !== 0) y[index.edgeSources[k]!]! += y[t]! * a;
    }
  }
  return y;
}

/**
 * circuit-tracer's find_threshold: sort descending, take the first score whose cumulative share
 * reaches the threshold (clamped to the last); keep every score ≥ it. A threshold ≥ 1 keeps all
 * (so floating-point rounding of the cumulative sum never drops the tail).
 */
export function findThreshold(scores: Float64Array, threshold: number): number {
  if (scores.length === 0) return Infinity;
  const sorted = Float64Array.from(scores).sort().reverse();
  if (threshold >= 1) return sorted[sorted.length - 1]!;
  let total = 0;
  for (const s of sorted) total += s;
  if (!(total > 0)) return Infinity;
  let cumulative = 0;
  for (let i = 0; i < sorted.length; i++) {
    cumulative += sorted[i]!;
    if (cumulative / total >= threshold) return sorted[i]!;
  }
  return sorted[sorted.length - 1]!;
}

function checkShare(name: string, value: number): void {
  if (!(value >= 0 && value <= 1)) throw new Error(`pruneGraph: ${name} must be between 0 and 1, got ${value}`);
}

export function pruneGraph(graph: AttributionGraph | GraphIndex, options: PruneOptions = {}): PruneResult {
  const index = 'edgeSources' in graph ? graph : graphIndex(graph);
  const nodeThreshold = options.nodeThreshold ?? 0.8;
  const edgeThreshold = options.edgeThreshold ?? 0.98;
  checkShare('nodeThreshold', nodeThreshold);
  checkShare('edgeThreshold', edgeThreshold);
  const n = index.nodeIds.length;
  const e = index.edgeSources.length;
  const kinds = index.kinds;

  const byTarget = rowsBy(index.edgeTargets, n);
  const bySource = rowsBy(index.edgeSources, n);
  const order = topologicalOrder(index, bySource);

  // Logit weights w.
  const w = new Float64Array(n);
  const logits = index.logitIndices;
  let probTotal = 0;
  for (const i of logits) probTotal += index.tokenProbs[i]!;
  for (const i of logits) w[i] = logits.length === 1 || !(probTotal > 0) ? 1 : index.tokenProbs[i]!;

  // (1) Influence on the full graph and the node threshold.
  const allAlive = new Uint8Array(e).fill(1);
  const normalised = new Float64Array(e);
  const y = propagate(index, byTarget, order, w, allAlive, normalised);
  const influence = new Float64Array(n);
  for (let i = 0; i < n; i++) influence[i] = y[i]! - w[i]!;

  const isCandidate = (i: number) => kinds[i] === 'feature' || kinds[i] === 'error';
  const ranked: number[] = [];
  for (let i = 0; i < n; i++) if (options.thresholdScope === 'all' || isCandidate(i)) ranked.push(i);
  const nodeCut = findThreshold(Float64Array.from(ranked, (i) => influence[i]!), nodeThreshold);
  let rankedTotal = 0;
  for (const i of ranked) rankedTotal += influence[i]!;

  const pinned = new Uint8Array(n);
  for (const id of options.pinnedIds ?? []) {
    const i = index.indexOf.get(id);
    if (i === undefined) throw new Error(`pruneGraph: pinned id "${id}" is not a node of the graph`);
    pinned[i] = 1;
  }
  const kept = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (!isCandidate(i) || pinned[i]) kept[i] = 1;
  const byInfluence = Array.from({ length: n }, (_, i) => i).filter((i) => isCandidate(i) && !pinned[i] && influence[i]! >= nodeCut);
  byInfluence.sort((a, b) => influence[b]! - influence[a]! || a - b);
  let pinnedCandidates = 0;
  for (let i = 0; i < n; i++) if (pinned[i] && isCandidate(i)) pinnedCandidates++;
  const room = Math.max(0, (options.maxNodes ?? Infinity) - pinnedCandidates);
  for (const i of byInfluence.slice(0, room)) kept[i] = 1;
  const coverage = () => {
    if (!(rankedTotal > 0)) return 0;
    let sum = 0;
    for (const i of ranked) if (kept[i]) sum += influence[i]!;
    return sum / rankedTotal;
  };
  const selectedNodeCoverage = coverage();

  // (2) Edge scores on the node-pruned graph.
  const linkAlive = new Uint8Array(e);
  for (let k = 0; k < e; k++) linkAlive[k] = kept[index.edgeSources[k]!]! & kept[index.edgeTargets[k]!]!;
  const prunedY = propagate(index, byTarget, order, w, linkAlive, normalised);
  const scores = new Float64Array(e);
  const aliveScores: number[] = [];
  let scoreTotal = 0;
  for (let k = 0; k < e; k++) {
    if (!linkAlive[k]) continue;
    scores[k] = normalised[k]! * prunedY[index.edgeTargets[k]!]!;
    aliveScores.push(scores[k]!);
    scoreTotal += scores[k]!;
  }
  const edgeCut = findThreshold(Float64Array.from(aliveScores), edgeThreshold);
  const edgeKept = new Uint8Array(e);
  for (let k = 0; k < e; k++) if (linkAlive[k] && scores[k]! >= edgeCut) edgeKept[k] = 1;

  // (3) Remove nodes left without outgoing (feature, error) or incoming (feature) edges, until stable.
  const outCount = new Int32Array(n);
  const inCount = new Int32Array(n);
  for (let k = 0; k < e; k++) {
    if (!edgeKept[k]) continue;
    outCount[index.edgeSources[k]!]!++;
    inCount[index.edgeTargets[k]!]!++;
  }
  const removable = (i: number) => kept[i] === 1 && isCandidate(i) && !pinned[i];
  const orphan = (i: number) => outCount[i] === 0 || (kinds[i] === 'feature' && inCount[i] === 0);
  const queue: number[] = [];
  for (let i = 0; i < n; i++) if (removable(i) && orphan(i)) queue.push(i);
  while (queue.length > 0) {
    const v = queue.pop()!;
    if (!kept[v]) continue;
    kept[v] = 0;
    for (const [rows, other, otherCount] of [[bySource, index.edgeTargets, inCount], [byTarget, index.edgeSources, outCount]] as const) {
      for (let r = rows.rowStart[v]!; r < rows.rowStart[v + 1]!; r++) {
        const k = rows.linkOf[r]!;
        if (!edgeKept[k]) continue;
        edgeKept[k] = 0;
        const u = other[k]!;
        otherCount[u]!--;
        if (removable(u) && orphan(u)) queue.push(u);
      }
    }
  }

  const keptNodeIds = index.nodeIds.filter((_, i) => kept[i] === 1);
  const linkIndices: number[] = [];
  let keptScore = 0;
  for (let k = 0; k < e; k++) {
    if (!edgeKept[k]) continue;
    linkIndices.push(k);
    keptScore += scores[k]!;
  }
  const keptLinkIndices = Int32Array.from(linkIndices);
  const keptLinks = linkIndices.map((k) => ({
    source: index.nodeIds[index.edgeSources[k]!]!, target: index.nodeIds[index.edgeTargets[k]!]!, weight: index.edgeWeights[k]!,
  }));

  const nodeInfluence = new Map<string, number>();
  index.nodeIds.forEach((id, i) => nodeInfluence.set(id, influence[i]!));
  return {
    keptNodeIds,
    keptLinks,
    keptLinkIndices,
    nodeCoverage: coverage(),
    selectedNodeCoverage,
    edgeCoverage: scoreTotal > 0 ? keptScore / scoreTotal : 0,
    nodeInfluence,
    cumulativeInfluence: cumulativeShares(index, influence),
  };
}

function cumulativeShares(index: GraphIndex, influence: Float64Array): Map<string, number> {
  const n = influence.length;
  const sorted = Array.from({ length: n }, (_, i) => i).sort((a, b) => influence[b]! - influence[a]! || a - b);
  let total = 0;
  for (const v of influence) total += v;
  const shares = new Map<string, number>();
  let cumulative = 0;
  for (const i of sorted) {
    cumulative += influence[i]!;
    if (index.kinds[i] !== 'logit') shares.set(index.nodeIds[i]!, total > 0 ? cumulative / total : 0);
  }
  return shares;
}

/** The pruned graph: kept nodes (with circuit-tracer's cumulative influence) and kept links. */
export function applyPrune(graph: AttributionGraph, result: PruneResult): AttributionGraph {
  const keep = new Set(result.keptNodeIds);
  return {
    metadata: graph.metadata,
    qParams: graph.qParams,
    nodes: graph.nodes
      .filter((node) => keep.has(node.node_id))
      .map((node) => ({ ...node, influence: result.cumulativeInfluence.get(node.node_id) ?? null })),
    links: result.keptLinks,
  };
}
