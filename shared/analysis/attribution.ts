/**
 * Attribution graph with MLP neurons as nodes (INTERP.md): the model linearised around the
 * prompt (attention patterns and normalisation scales frozen, no gradient through MLP
 * non-linearities), so every node's pre-activation and the Δ logit are affine in the
 * upstream nodes and the graph is exact.
 *
 * Runs as scheduler steps (steps.ts), each one ONNX call of a few rows, with bounded memory:
 *  1. Explore: starting from the Δ node, expand the most influential candidates first. One
 *     linearised VJP row per target node gives its edge from every neuron (`edges.l`); the
 *     row's normalised |edges| × its influence raise every source's score. Only the scores
 *     are kept (one number per neuron), never a row's gradients.
 *  2. Assemble: the VJPs of the kept targets run again, a few rows per step; each row's edges
 *     from kept neurons are read off `edges.l`, and the neurons not kept at (layer, position)
 *     become one aggregate node whose edge is the sum of their own edges (an independent sum,
 *     not "total minus kept"), so Σ incoming edges + constants = the target's actual value is
 *     a real check of the edges ONNX computed against the forward pass.
 *
 * Rows per ONNX call adapt so a step takes about `stepMs`, and never return more than
 * `edgeBytesPerCall` of edges.
 * Legend: T positions, P = T − 1, L layers, d width, m = d_mlp, R rows per VJP call.
 */
import { hookName } from '../engine/hooks.js';
import { backwardName } from '../engine/onnx/compile-backward.js';
import type { Tensor } from '../engine/decoder.js';
import type { AnalysisContext } from './context.js';
import { logitDirection, tokenProbability } from './logit-direction.js';
import type { ResolvedQuestion } from './question.js';
import { topIndices } from './select.js';
import { CancelledError, runSteps, type Steps } from './steps.js';

export { CancelledError };

export interface AttributionOptions {
  /** Neuron nodes to expand (the node budget). */
  maxNodes?: number;
  /** Candidates chosen per exploration round, and the most rows per VJP call. */
  batchSize?: number;
  /** Bytes of edges one VJP call may return (caps rows per call; default 48 MB). */
  edgeBytesPerCall?: number;
  /** Wall time one step aims at: rows per call adapt to it (the server: 50 ms; default: no time target, the largest batches). */
  stepMs?: number;
  /** Units of work the caller does after the graph is built (pruning, export), for progress. */
  finishUnits?: number;
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
  /** Probability of the target at P. */
  targetProb: number;
  nodes: RawNode[];
  /** Edge lists: sources[k] → targets[k] with weights[k] (indices into nodes). */
  sources: Int32Array;
  targets: Int32Array;
  weights: Float64Array;
  /** Neurons considered (expanded) and the VJP calls made. */
  stats: { expanded: number; vjpCalls: number; candidates: number };
}

interface Target {
  layer: number;
  pos: number;
  index: number;
  influence: number;
}

/** A growable edge list in typed arrays (zero weights dropped); the feature graph uses it too. */
export class EdgeList {
  sources = new Int32Array(1 << 12);
  targets = new Int32Array(1 << 12);
  weights = new Float64Array(1 << 12);
  length = 0;

  add(s: number, t: number, w: number): void {
    if (w === 0) return;
    if (this.length === this.sources.length) {
      const grow = <A extends Int32Array | Float64Array>(a: A): A => {
        const b = new (a.constructor as new (n: number) => A)(a.length * 2);
        b.set(a);
        return b;
      };
      this.sources = grow(this.sources);
      this.targets = grow(this.targets);
      this.weights = grow(this.weights);
    }
    this.sources[this.length] = s;
    this.targets[this.length] = t;
    this.weights[this.length++] = w;
  }
}

export function attributionSteps(context: AnalysisContext, question: ResolvedQuestion, options: AttributionOptions = {}): Steps<RawGraph> {
  return attributionGenerator(context, question, options);
}

/** The whole graph in one go (CLI, tests, benchmarks). */
export function buildAttributionGraph(context: AnalysisContext, question: ResolvedQuestion, options: AttributionOptions = {}): Promise<RawGraph> {
  return runSteps(attributionSteps(context, question, options), (p) => options.onProgress?.(p.done, p.total), options.shouldCancel);
}

async function* attributionGenerator(context: AnalysisContext, question: ResolvedQuestion, options: AttributionOptions): Steps<RawGraph> {
  const { decoder } = context.model;
  const { spec, weights } = decoder;
  const { nLayers: L, dModel: d, dMlp: m } = spec;
  const { tokens, target, distractor } = question;
  const T = tokens.length;
  const P = T - 1;
  const maxNodes = options.maxNodes ?? 200;
  const batchSize = Math.max(1, options.batchSize ?? 32);
  const rowBytes = L * T * m * 4;
  const maxRows = Math.max(1, Math.min(batchSize, Math.floor((options.edgeBytesPerCall ?? 48 * 2 ** 20) / rowBytes)));
  const stepMs = options.stepMs ?? Infinity;
  let R = Number.isFinite(stepMs) ? 1 : maxRows;
  /** Rows for the next call, from how long this one took for `rows` rows. */
  const adapt = (started: number, rows: number) => {
    const elapsed = Math.max(1, performance.now() - started);
    R = Math.max(1, Math.min(maxRows, Math.round((rows * stepMs) / elapsed)));
  };
  const finishUnits = options.finishUnits ?? 0;
  let total = 1 + (maxNodes + 1) + (maxNodes + 1) + finishUnits;
  let done = 0;
  const progress = (phase: string, units: number) => {
    done += units;
    return { phase, done, total };
  };

  const backward = await context.backwardRunner('linear');
  const hooks = [...new Set([...backward.requiredHooks(), hookName.lnFinalScale, ...Array.from({ length: L }, (_, l) => hookName.mlpPre(l))])];
  const { logits, cache } = await context.runner.run([tokens], { hooks, positions: 'last' });
  const logitDiff = logits.data[target]! - logits.data[distractor]!;
  const targetProb = tokenProbability(logits.data, target);
  const direction = logitDirection(decoder, target, distractor, cache[hookName.lnFinalScale]!.data[P]!);
  const gated = spec.mlp.kind === 'gated';
  const inputWeight = (l: number) => weights[`blocks.${l}.mlp.${gated ? 'W_gate' : 'W_in'}`]!.data; // [d, m]
  const inputBias = (l: number) => weights[`blocks.${l}.mlp.${gated ? 'b_gate' : 'b_in'}`]?.data;
  const post = (l: number) => cache[hookName.mlpPost(l)]!.data; // [1, T, m]
  yield progress('forward', 1);

  let vjpCalls = 0;
  /** One linearised VJP for up to R target rows: their edges from every layer below the deepest. */
  const vjp = async (rows: Target[]): Promise<Record<string, Tensor>> => {
    const N = rows.length;
    const gradFinal = new Float32Array(N * T * d);
    const injects: Record<string, Tensor> = {};
    let deepest = 0;
    rows.forEach((node, row) => {
      deepest = Math.max(deepest, node.layer);
      if (node.layer === L) {
        gradFinal.set(direction.u, (row * T + node.pos) * d);
        return;
      }
      const name = backwardName.inject(node.layer);
      injects[name] ??= { shape: [N, T, d], data: new Float32Array(N * T * d) };
      const W = inputWeight(node.layer);
      const inject = injects[name].data;
      for (let j = 0; j < d; j++) inject[(row * T + node.pos) * d + j] = W[j * m + node.index]!;
    });
    const fetch = [backwardName.edgesEmbed, backwardName.constants];
    for (let l = 0; l < deepest; l++) fetch.push(backwardName.edges(l));
    vjpCalls++;
    return backward.run(cache, { [backwardName.gradFinal]: { shape: [N, T, d], data: gradFinal }, ...injects }, fetch);
  };

  // Phase 1: explore. `kept` lists the targets in the order they were chosen (the Δ node first).
  let score = new Float64Array(L * T * m);
  const expanded = new Uint8Array(L * T * m);
  const kept: Target[] = [{ layer: L, pos: P, index: target, influence: 1 }];
  let next = 0; // first kept target not yet explored
  while (next < kept.length) {
    const started = performance.now();
    const rows = kept.slice(next, next + R);
    next += rows.length;
    const out = await vjp(rows);
    const embedEdges = out[backwardName.edgesEmbed]!.data;
    rows.forEach((node, row) => {
      // Normalised |edges| of this row, weighted by the node's influence, raise its sources' scores.
      // Edges from later positions or from layers at or above the target are zero: not read.
      let rowSum = 0;
      for (let p = 0; p <= node.pos; p++) rowSum += Math.abs(embedEdges[row * T + p]!);
      for (let l = 0; l < node.layer; l++) {
        const edges = out[backwardName.edges(l)]!.data;
        const end = row * T * m + (node.pos + 1) * m;
        for (let k = row * T * m; k < end; k++) rowSum += Math.abs(edges[k]!);
      }
      if (!(rowSum > 0)) return;
      const scale = node.influence / rowSum;
      for (let l = 0; l < node.layer; l++) {
        const edges = out[backwardName.edges(l)]!.data;
        const base = row * T * m;
        const into = l * T * m;
        for (let k = 0; k < (node.pos + 1) * m; k++) score[into + k]! += scale * Math.abs(edges[base + k]!);
      }
    });
    if (next === kept.length) {
      // Next round: the highest-scoring neurons not yet expanded. The last round is not explored
      // (nothing is chosen after it); assembly runs its VJPs.
      const budget = Math.min(batchSize, maxNodes - (kept.length - 1));
      for (const k of topIndices(score, budget, 1, expanded)) {
        expanded[k] = 1;
        kept.push({ layer: Math.floor(k / (T * m)), pos: Math.floor((k % (T * m)) / m), index: k % m, influence: score[k]! });
      }
      if (kept.length - 1 >= maxNodes || budget <= 0) next = kept.length;
    }
    adapt(started, rows.length);
    const explored = next === kept.length ? maxNodes + 1 : next;
    yield progress('explore', explored - (done - 1));
  }
  total = done + kept.length + finishUnits;
  score = new Float64Array(0); // only exploration needs the scores

  // Phase 2: assemble. Nodes: the Δ logit, the kept neurons, then aggregates and embeddings.
  const nodes: RawNode[] = [];
  const nodeOf = new Map<number, number>(); // flat neuron index (l·T + p)·m + i → node index
  nodes.push({ kind: 'logit', layer: L, index: target, pos: P, activation: null, actual: logitDiff });
  for (const { layer, pos, index } of kept.slice(1)) {
    nodeOf.set((layer * T + pos) * m + index, nodes.length);
    nodes.push({ kind: 'neuron', layer, index, pos, activation: post(layer)[pos * m + index]!, actual: cache[hookName.mlpPre(layer)]!.data[pos * m + index]! });
  }
  const aggregateStart = nodes.length;
  for (let l = 0; l < L; l++) for (let p = 0; p < T; p++) nodes.push({ kind: 'aggregate', layer: l, index: -1, pos: p, activation: null });
  const embeddingStart = nodes.length;
  for (let p = 0; p < T; p++) nodes.push({ kind: 'embedding', layer: -1, index: tokens[p]!, pos: p, activation: null });

  const edges = new EdgeList();
  for (let first = 0; first < kept.length;) {
    const started = performance.now();
    const rows = kept.slice(first, first + R);
    const out = await vjp(rows);
    const embedEdges = out[backwardName.edgesEmbed]!.data;
    const constants = out[backwardName.constants]!.data;
    rows.forEach((node, row) => {
      const t = first + row;
      // Local constant of the target: its own input bias and norm offset, or Δ's.
      let local = direction.constant;
      if (t > 0) {
        const W = inputWeight(node.layer);
        const beta = weights[`blocks.${node.layer}.ln2.b`]?.data;
        local = inputBias(node.layer)?.[node.index] ?? 0;
        if (beta) for (let j = 0; j < d; j++) local += beta[j]! * W[j * m + node.index]!;
      }
      nodes[t]!.constant = constants[row]! + local;
      for (let l = 0; l < node.layer; l++) {
        const values = out[backwardName.edges(l)]!.data;
        for (let p = 0; p <= node.pos; p++) {
          const base = (row * T + p) * m;
          const flat = (l * T + p) * m;
          let rest = 0;
          for (let i = 0; i < m; i++) {
            const v = values[base + i]!;
            if (expanded[flat + i]) edges.add(nodeOf.get(flat + i)!, t, v);
            else rest += v;
          }
          edges.add(aggregateStart + l * T + p, t, rest);
        }
      }
      for (let p = 0; p <= node.pos; p++) edges.add(embeddingStart + p, t, embedEdges[row * T + p]!);
    });
    first += rows.length;
    adapt(started, rows.length);
    yield progress('assemble', rows.length);
  }
  return {
    tokens, target, distractor, logitDiff, targetProb, nodes,
    sources: edges.sources.slice(0, edges.length), targets: edges.targets.slice(0, edges.length), weights: edges.weights.slice(0, edges.length),
    stats: { expanded: kept.length - 1, vjpCalls, candidates: L * T * m },
  };
}
