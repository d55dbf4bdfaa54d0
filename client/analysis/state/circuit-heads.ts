/**
 * Which attention heads write into a circuit node: the circuit's way into the attention view.
 * Attention is frozen in the attribution graph, so an edge from a unit at an earlier position k
 * into a node at position q was carried there by attention heads. On its one-hop route the
 * edge's source writes into the residual stream at its layer ls (embeddings: before block 0),
 * then one head of a later block m (ls < m ≤ the node's own block; a logit reads after the last
 * block) moves it from k to q with weight A_{m,h}[q, k]. Each head's score is
 *   Σ over the node's incoming cross-position edges  |weight| × A_{m,h}[q, k],
 * and its share is that score over the sum of all heads' scores. Routes with several hops are
 * left out (they are a product of several patterns); same-position edges go through the
 * residual stream, not a head. Pure: the graph, its index and attention rows in, heads out.
 */
import type { GraphIndex } from '../../../shared/graph/io.js';
import type { AttributionGraph } from '../../../shared/graph/schema.js';

export interface HeadInto {
  layer: number;
  head: number;
  score: number;
  /** score / (sum over all heads), 0..1. */
  share: number;
}

/** The block a node is written at (embeddings −1) and the last block whose heads feed it. */
function blockOf(graph: AttributionGraph, index: GraphIndex, i: number, nLayers: number): { writes: number; reads: number } {
  const kind = index.kinds[i];
  if (kind === 'embedding') return { writes: -1, reads: -1 };
  if (kind === 'logit') return { writes: nLayers, reads: nLayers - 1 };
  const layer = Number(graph.nodes[i]!.layer);
  return { writes: layer, reads: layer };
}

/**
 * The heads carrying a node's cross-position inputs, strongest first (at most `limit`).
 * `members`: graph node indices (one, or a supernode's members). `rowOf(q, layer, head)`: the
 * head's attention row of query q over keys 0..q, or undefined when not known.
 */
export function headsIntoNode(
  graph: AttributionGraph,
  index: GraphIndex,
  members: readonly number[],
  rowOf: (query: number, layer: number, head: number) => Float32Array | undefined,
  shape: { nLayers: number; nHeads: number },
  limit = 4,
): HeadInto[] {
  const { nLayers, nHeads } = shape;
  const scores = new Float64Array(nLayers * nHeads);
  const memberSet = new Set(members);
  const { edgeSources, edgeTargets, edgeWeights } = index;
  for (let e = 0; e < edgeTargets.length; e++) {
    const t = edgeTargets[e]!;
    if (!memberSet.has(t)) continue;
    const s = edgeSources[e]!;
    const q = graph.nodes[t]!.ctx_idx;
    const k = graph.nodes[s]!.ctx_idx;
    if (k >= q) continue;
    const from = blockOf(graph, index, s, nLayers).writes;
    const to = blockOf(graph, index, t, nLayers).reads;
    const weight = Math.abs(edgeWeights[e]!);
    for (let m = Math.max(0, from + 1); m <= Math.min(to, nLayers - 1); m++) {
      for (let h = 0; h < nHeads; h++) {
        const row = rowOf(q, m, h);
        const a = row?.[k];
        if (a !== undefined) scores[m * nHeads + h]! += weight * a;
      }
    }
  }
  let total = 0;
  for (const s of scores) total += s;
  if (total <= 0) return [];
  const heads: HeadInto[] = [];
  for (let m = 0; m < nLayers; m++) {
    for (let h = 0; h < nHeads; h++) {
      const score = scores[m * nHeads + h]!;
      if (score > 0) heads.push({ layer: m, head: h, score, share: score / total });
    }
  }
  return heads.sort((a, b) => b.score - a.score).slice(0, limit);
}
