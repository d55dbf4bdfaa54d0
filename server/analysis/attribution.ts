/**
 * Attribution graph with MLP neurons as nodes (INTERP.md): the model linearised around the
 * prompt (attention patterns and normalisation scales frozen, no gradient through MLP
 * non-linearities), so every node's pre-activation and the Δ logit are affine in the
 * upstream nodes and the graph is exact.
 *
 * Two phases, bounded memory:
 *  1. Explore: starting from the Δ node, expand the most influential candidates first, in
 *     batches (one linearised VJP row per target node, N rows per ONNX call), until the node
 *     budget is spent. Each expanded row adds its normalised |edges| × its influence to every
 *     source's score; the row's gradient at each block output is kept.
 *  2. Assemble: every edge between kept nodes is one dot product a_s·(W_out[s]·g_t); the
 *     neurons not kept at (layer, position) become one exact aggregate node, so for every
 *     target Σ incoming edges + constants = its actual value.
 *
 * Legend: T positions, P = T − 1, L layers, d width, m = d_mlp, N rows per VJP call.
 */
import { hookName } from '../engine/hooks.js';
import { backwardName } from '../engine/onnx/compile-backward.js';
import type { AnalysisContext } from './context.js';
import { dot, logitDirection } from './logit-direction.js';
import type { ResolvedQuestion } from './question.js';

export interface AttributionOptions {
  /** Neuron nodes to expand (the node budget). */
  maxNodes?: number;
  /** Target rows per VJP call. */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
  shouldCancel?: () => boolean;
}

export type RawNodeKind = 'logit' | 'neuron' | 'embedding' | 'aggregate';

export interface RawNode {
  kind: RawNodeKind;
  /** Layer of a neuron or aggregate; L for the logit node; -1 for embeddings. */
  layer: number;
  /** Neuron index; token id for embeddings and the logit node; -1 for aggregates. */
  index: number;
  pos: number;
  /** The neuron's activation; null for other kinds. */
  activation: number | null;
  /** For targets (logit, neurons): the actual value (Δ or pre-activation) and the constant terms. */
  actual?: number;
  constant?: number;
}

export interface RawGraph {
  tokens: number[];
  target: number;
  distractor: number;
  logitDiff: number;
  nodes: RawNode[];
  /** Edge lists: sources[k] → targets[k] with weights[k] (indices into nodes). */
  sources: Int32Array;
  targets: Int32Array;
  weights: Float64Array;
  /** Neurons considered (expanded) and the VJP calls made. */
  stats: { expanded: number; vjpCalls: number; candidates: number };
}

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

export async function buildAttributionGraph(
  context: AnalysisContext, question: ResolvedQuestion, options: AttributionOptions = {},
): Promise<RawGraph> {
  const { decoder } = context.model;
  const { spec, weights } = decoder;
  const { nLayers: L, dModel: d, dMlp: m } = spec;
  const { tokens, target, distractor } = question;
  const T = tokens.length;
  const P = T - 1;
  const maxNodes = options.maxNodes ?? 200;
  const batchSize = options.batchSize ?? 32;
  const backward = await context.backwardRunner('linear');
  const hooks = [...new Set([...backward.requiredHooks(), hookName.lnFinalScale,
    ...Array.from({ length: L }, (_, l) => [hookName.mlpPre(l), hookName.mlpOut(l)]).flat()])];
  const { logits, cache } = await context.runner.run([tokens], { hooks });
  const V = spec.vocabSize;
  const logitDiff = logits.data[P * V + target]! - logits.data[P * V + distractor]!;
  const direction = logitDirection(decoder, target, distractor, cache[hookName.lnFinalScale]!.data[P]!);
  const gated = spec.mlp.kind === 'gated';
  const inputWeight = (l: number) => weights[`blocks.${l}.mlp.${gated ? 'W_gate' : 'W_in'}`]!.data; // [d, m]
  const inputBias = (l: number) => weights[`blocks.${l}.mlp.${gated ? 'b_gate' : 'b_in'}`]?.data;
  const post = (l: number) => cache[hookName.mlpPost(l)]!.data; // [1, T, m]
  const flat = (l: number, p: number, i: number) => (l * T + p) * m + i;

  // Phase 1: explore.
  interface Row { node: { layer: number; pos: number; index: number }; gradResid: Float32Array[]; embedEdges: Float32Array; constant: number }
  const rows: Row[] = [];
  const score = new Float64Array(L * T * m);
  const expanded = new Uint8Array(L * T * m);
  let vjpCalls = 0;
  let pending: { layer: number; pos: number; index: number; influence: number }[] = [{ layer: L, pos: P, index: target, influence: 1 }];
  while (pending.length > 0) {
    if (options.shouldCancel?.()) throw new CancelledError();
    const N = pending.length;
    const gradFinal = new Float32Array(N * T * d);
    const injects: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (let l = 0; l < L; l++) injects[backwardName.inject(l)] = { shape: [N, T, d], data: new Float32Array(N * T * d) };
    pending.forEach((node, row) => {
      if (node.layer === L) {
        gradFinal.set(direction.u, (row * T + node.pos) * d);
        return;
      }
      const W = inputWeight(node.layer);
      const inject = injects[backwardName.inject(node.layer)]!.data;
      for (let j = 0; j < d; j++) inject[(row * T + node.pos) * d + j] = W[j * m + node.index]!;
    });
    const fetch = [backwardName.edgesEmbed, backwardName.constants];
    for (let l = 0; l < L; l++) fetch.push(backwardName.edges(l), backwardName.gradResidPost(l));
    const out = await backward.run(cache, { [backwardName.gradFinal]: { shape: [N, T, d], data: gradFinal }, ...injects }, fetch);
    vjpCalls++;
    const embedEdges = out[backwardName.edgesEmbed]!.data;
    pending.forEach((node, row) => {
      // Normalised |edges| of this row, weighted by the node's influence, raise its sources' scores.
      let rowSum = 0;
      for (let p = 0; p < T; p++) rowSum += Math.abs(embedEdges[row * T + p]!);
      for (let l = 0; l < L; l++) {
        const edges = out[backwardName.edges(l)]!.data;
        for (let k = 0; k < T * m; k++) rowSum += Math.abs(edges[row * T * m + k]!);
      }
      if (rowSum > 0) {
        for (let l = 0; l < L; l++) {
          const edges = out[backwardName.edges(l)]!.data;
          const scale = node.influence / rowSum;
          for (let k = 0; k < T * m; k++) score[l * T * m + k]! += scale * Math.abs(edges[row * T * m + k]!);
        }
      }
      rows.push({
        node,
        gradResid: Array.from({ length: L }, (_, l) => out[backwardName.gradResidPost(l)]!.data.slice(row * T * d, (row + 1) * T * d)),
        embedEdges: embedEdges.slice(row * T, (row + 1) * T),
        constant: out[backwardName.constants]!.data[row]!,
      });
    });
    options.onProgress?.(rows.length - 1, maxNodes);
    // Next batch: the highest-scoring neurons not yet expanded.
    const budget = Math.min(batchSize, maxNodes - (rows.length - 1));
    pending = budget > 0 ? topCandidates(score, expanded, budget).map((k) => {
      expanded[k] = 1;
      const layer = Math.floor(k / (T * m));
      const pos = Math.floor((k % (T * m)) / m);
      return { layer, pos, index: k % m, influence: score[k]! };
    }) : [];
  }

  // Phase 2: assemble nodes and exact edges.
  const nodes: RawNode[] = [];
  const nodeOf = new Map<number, number>(); // flat neuron index → node index
  nodes.push({ kind: 'logit', layer: L, index: target, pos: P, activation: null, actual: logitDiff });
  for (const row of rows.slice(1)) {
    const { layer, pos, index } = row.node;
    nodeOf.set(flat(layer, pos, index), nodes.length);
    nodes.push({ kind: 'neuron', layer, index, pos, activation: post(layer)[pos * m + index]!, actual: cache[hookName.mlpPre(layer)]!.data[pos * m + index]! });
  }
  const embeddingNode = (p: number) => nodes.length - T + p; // embeddings come last but aggregates
  const keptNeurons = rows.slice(1).map((r) => r.node);
  const aggregateStart = nodes.length;
  for (let l = 0; l < L; l++) for (let p = 0; p < T; p++) nodes.push({ kind: 'aggregate', layer: l, index: -1, pos: p, activation: null });
  for (let p = 0; p < T; p++) nodes.push({ kind: 'embedding', layer: -1, index: tokens[p]!, pos: p, activation: null });

  const sources: number[] = [];
  const targets: number[] = [];
  const edgeWeights: number[] = [];
  const addEdge = (s: number, t: number, w: number) => {
    if (w === 0) return;
    sources.push(s);
    targets.push(t);
    edgeWeights.push(w);
  };
  const mlpOutWithoutBias = Array.from({ length: L }, (_, l) => {
    const out = Float64Array.from(cache[hookName.mlpOut(l)]!.data);
    const bias = weights[`blocks.${l}.mlp.b_out`]?.data;
    if (bias) for (let p = 0; p < T; p++) for (let j = 0; j < d; j++) out[p * d + j]! -= bias[j]!;
    return out; // [T, d] Σ_i a_i W_out[i]
  });
  rows.forEach((row, t) => {
    const targetLayer = row.node.layer;
    const targetPos = row.node.pos;
    // Local constant of the target: its own input bias and norm offset, or Δ's.
    let local = direction.constant;
    if (t > 0) {
      const W = inputWeight(targetLayer);
      const beta = weights[`blocks.${targetLayer}.ln2.b`]?.data;
      local = inputBias(targetLayer)?.[row.node.index] ?? 0;
      if (beta) for (let j = 0; j < d; j++) local += beta[j]! * W[j * m + row.node.index]!;
    }
    nodes[t]!.constant = row.constant + local;
    // Kept neurons, and what remains of each (layer, position) as its aggregate.
    const keptSum = new Float64Array(L * T);
    for (const s of keptNeurons) {
      if (s.layer >= targetLayer || s.pos > targetPos) continue;
      const W_out = weights[`blocks.${s.layer}.mlp.W_out`]!.data;
      const value = post(s.layer)[s.pos * m + s.index]! * dot(W_out, s.index * d, row.gradResid[s.layer]!, s.pos * d, d);
      keptSum[s.layer * T + s.pos]! += value;
      addEdge(nodeOf.get(flat(s.layer, s.pos, s.index))!, t, value);
    }
    for (let l = 0; l < Math.min(targetLayer, L); l++) {
      for (let p = 0; p <= targetPos; p++) {
        const all = dot(mlpOutWithoutBias[l]!, p * d, row.gradResid[l]!, p * d, d);
        addEdge(aggregateStart + l * T + p, t, all - keptSum[l * T + p]!);
      }
    }
    for (let p = 0; p <= targetPos; p++) addEdge(embeddingNode(p), t, row.embedEdges[p]!);
  });
  return {
    tokens, target, distractor, logitDiff, nodes,
    sources: Int32Array.from(sources), targets: Int32Array.from(targets), weights: Float64Array.from(edgeWeights),
    stats: { expanded: rows.length - 1, vjpCalls, candidates: L * T * m },
  };
}

/** Indices of the k highest positive scores among those not yet expanded. */
function topCandidates(score: Float64Array, expanded: Uint8Array, k: number): number[] {
  const best: number[] = [];
  // Keep a small sorted list: k is tens, the scan is linear in the candidates.
  let floor = 0;
  for (let i = 0; i < score.length; i++) {
    const s = score[i]!;
    if (s <= floor || expanded[i]) continue;
    let at = best.length;
    while (at > 0 && score[best[at - 1]!]! < s) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
    if (best.length === k) floor = score[best[k - 1]!]!;
  }
  return best;
}
