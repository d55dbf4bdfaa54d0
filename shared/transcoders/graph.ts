/**
 * Attribution graph of the replacement model (INTERP.md, "Transcoders and the replacement
 * model"): every MLP output replaced by its transcoder's ŷ plus a frozen error ε = y − ŷ,
 * attention patterns and normalisation scales frozen. Each active feature's pre-activation and
 * the Δ logit are then affine in the upstream nodes (features, error nodes, embeddings), so the
 * graph is exact: Σ incoming edges + constant = the node's actual value.
 *
 * The vector-Jacobian products run batched on ONNX Runtime, in the backward graph's
 * `replacement` mode (compile-backward.ts): the neuron graph's linear mode, except that each
 * transcoder's skip connection x W_skipᵀ is linear, so the gradient flows through it (through
 * ln2's frozen scale, centring and γ). Sets reading resid_mid, or `engine: 'float64'`, use the
 * same maps written in float64 TypeScript (graph-linear.ts). One VJP per target node gives the
 * gradient at every resid_post below it; each edge is then a dot product with the source's write
 * (a_s·W_dec[s], ε, or the embedding).
 *
 * Features at position 0 are zeroed as circuit-tracer does (attention sink): their writes go
 * into that position's error node, which keeps the decomposition exact.
 *
 * Runs as scheduler steps (analysis/steps.ts): the forward, then target rows in chunks of about
 * `stepMs`, then the scores.
 * Legend: T positions, P = T − 1, L layers, d width, H heads, Hkv kv heads, dh head width,
 * F features of a layer.
 */
import type { Decoder, Tensor } from '../engine/decoder.js';
import { hookName } from '../engine/hooks.js';
import type { AnalysisContext } from '../analysis/context.js';
import { logitDirection, tokenProbability } from '../analysis/logit-direction.js';
import type { ResolvedQuestion } from '../analysis/question.js';
import { runSteps, type Steps } from '../analysis/steps.js';
import { BackwardRunner } from '../engine/backward-runner.js';
import { backwardName } from '../engine/onnx/compile-backward.js';
import type { TranscoderRunner } from './forward.js';
import { transcoderInput } from './inputs.js';
import type { TranscoderSet } from './load.js';
import { dot, LinearReplacement, type Frozen } from './graph-linear.js';
import { graphScores } from './graph-scores.js';
import { EdgeList } from '../analysis/attribution.js';

export { exactnessError, graphScores } from './graph-scores.js';

export type FeatureNodeKind = 'feature' | 'error' | 'embedding' | 'logit';

export interface FeatureNode {
  kind: FeatureNodeKind;
  /** Layer of a feature or error node; L for the logit; -1 for embeddings. */
  layer: number;
  /** Feature index; token id for embeddings and the logit; -1 for error nodes. */
  index: number;
  pos: number;
  /** Feature activation; null otherwise. */
  activation: number | null;
  /** Targets (features, logit): actual pre-activation (or Δ) and the constant terms. */
  actual?: number;
  constant?: number;
}

export interface FeatureGraph {
  tokens: number[];
  target: number;
  distractor: number;
  logitDiff: number;
  targetProb: number;
  nodes: FeatureNode[];
  /** Edges sources[k] → targets[k] with weights[k] (indices into nodes). */
  sources: Int32Array;
  targets: Int32Array;
  weights: Float64Array;
  /** circuit-tracer's graph scores, on the unpruned graph. */
  scores: { replacement: number; completeness: number };
  stats: { features: number; vjps: number };
}

export interface FeatureGraphOptions {
  /** Where the VJPs run: batched on ONNX Runtime in float32 (`onnx`, the default, for sets reading
   * ln2's output), or one row at a time in float64 TypeScript (`float64`, any set). */
  engine?: 'onnx' | 'float64';
  /** Target rows per ONNX call (default 32). */
  batchSize?: number;
  /** Wall time one step aims at (default: no target, one step for all rows). */
  stepMs?: number;
  onProgress?: (done: number, total: number) => void;
  shouldCancel?: () => boolean;
}


const f64 = (t: Tensor) => Float64Array.from(t.data);

export function featureGraphSteps(
  context: AnalysisContext, set: TranscoderSet, transcoders: TranscoderRunner, question: ResolvedQuestion, options: FeatureGraphOptions = {},
): Steps<FeatureGraph> {
  return featureGraphGenerator(context, set, transcoders, question, options);
}

/** The whole graph in one go (CLI, tests, benchmarks). */
export function buildFeatureGraph(
  context: AnalysisContext, set: TranscoderSet, transcoders: TranscoderRunner, question: ResolvedQuestion, options: FeatureGraphOptions = {},
): Promise<FeatureGraph> {
  return runSteps(featureGraphSteps(context, set, transcoders, question, options), (p) => options.onProgress?.(p.done, p.total), options.shouldCancel);
}

async function* featureGraphGenerator(
  context: AnalysisContext, set: TranscoderSet, transcoders: TranscoderRunner, question: ResolvedQuestion, options: FeatureGraphOptions,
): Steps<FeatureGraph> {
  const decoder = context.model.decoder;
  const { spec } = decoder;
  const { nLayers: L, dModel: d } = spec;
  const { tokens, target, distractor } = question;
  const T = tokens.length;
  const P = T - 1;
  const stepMs = options.stepMs ?? Infinity;

  // Forward: the caches the frozen model needs, and each layer's transcoder.
  const hooks: string[] = [hookName.embed, hookName.lnFinalScale];
  if (spec.positional.kind === 'learned') hooks.push(hookName.posEmbed);
  for (let l = 0; l < L; l++) hooks.push(hookName.ln1Scale(l), hookName.pattern(l), hookName.ln2Scale(l), hookName.residMid(l), hookName.mlpOut(l));
  const { logits, cache } = await context.runner.run([tokens], { hooks, positions: 'last' });
  const logitDiff = logits.data[target]! - logits.data[distractor]!;
  const targetProb = tokenProbability(logits.data, target);
  const frozen: Frozen = {
    T, tokens,
    embed: f64(cache[hookName.embed]!),
    posEmbed: spec.positional.kind === 'learned' ? f64(cache[hookName.posEmbed]!) : null,
    ln1Scale: Array.from({ length: L }, (_, l) => f64(cache[hookName.ln1Scale(l)]!)),
    ln2Scale: Array.from({ length: L }, (_, l) => f64(cache[hookName.ln2Scale(l)]!)),
    pattern: Array.from({ length: L }, (_, l) => f64(cache[hookName.pattern(l)]!)),
  };
  const model = new LinearReplacement(decoder, set, frozen);

  // Nodes: active features (position 0 zeroed), error nodes, embeddings, the Δ logit.
  const nodes: FeatureNode[] = [];
  const errors: Float64Array[] = []; // per layer [T, d]: ε = y − ŷ
  for (let l = 0; l < L; l++) {
    const x = transcoderInput(set.inputHook, decoder, cache, l);
    const { features } = await transcoders.run(l, x);
    const t = set.layers[l]!;
    const F = t.nFeatures;
    const y = cache[hookName.mlpOut(l)]!.data;
    const W_dec = t.W_dec.data;
    const W_enc = t.W_enc.data;
    const error = new Float64Array(T * d);
    for (let p = 0; p < T; p++) {
      const input = model.input(l, cache[hookName.residMid(l)]!.data, p);
      const yHat = model.skip(l, input); // b_dec + x W_skipᵀ
      for (let i = 0; i < F; i++) {
        const a = features.data[p * F + i]!;
        if (!(a > 0) || p === 0) continue;
        let z = t.b_enc.data[i]!;
        for (let j = 0; j < d; j++) z += W_enc[i * d + j]! * input[j]!;
        nodes.push({ kind: 'feature', layer: l, index: i, pos: p, activation: a, actual: z });
        for (let j = 0; j < d; j++) yHat[j]! += a * W_dec[i * d + j]!;
      }
      for (let j = 0; j < d; j++) error[p * d + j] = y[p * d + j]! - yHat[j]!;
    }
    errors.push(error);
  }
  const nFeatures = nodes.length;
  const errorStart = nodes.length;
  for (let l = 0; l < L; l++) for (let p = 0; p < T; p++) nodes.push({ kind: 'error', layer: l, index: -1, pos: p, activation: null });
  const embeddingStart = nodes.length;
  for (let p = 0; p < T; p++) nodes.push({ kind: 'embedding', layer: -1, index: tokens[p]!, pos: p, activation: null });
  const logitIndex = nodes.length;
  nodes.push({ kind: 'logit', layer: L, index: target, pos: P, activation: null, actual: logitDiff });
  const direction = logitDirection(decoder, target, distractor, cache[hookName.lnFinalScale]!.data[P]!);
  // Feature nodes of (layer, pos), for reading edges off a VJP.
  const byLayerPos: number[][] = Array.from({ length: L * T }, () => []);
  for (let k = 0; k < nFeatures; k++) byLayerPos[nodes[k]!.layer * T + nodes[k]!.pos]!.push(k);

  const targets = [...Array.from({ length: nFeatures }, (_, k) => k), logitIndex];
  let done = 1;
  const total = 1 + targets.length + 1;
  yield { phase: 'forward', done, total };

  const edges = new EdgeList();
  /** Records target t's edges from the gradients at each resid_post below it and at the embeddings. */
  const record = (t: number, post: (l: number) => ArrayLike<number>, postOffset: number, embedEdge: (p: number) => number, constant: number, local: number) => {
    const node = nodes[t]!;
    node.constant = local + constant;
    const below = node.kind === 'logit' ? L : node.layer;
    for (let l = 0; l < below; l++) {
      const g = post(l);
      const W_dec = set.layers[l]!.W_dec.data;
      const error = errors[l]!;
      for (let p = 0; p <= node.pos; p++) {
        const base = postOffset + p * d;
        for (const s of byLayerPos[l * T + p]!) {
          const source = nodes[s]!;
          let w = 0;
          for (let j = 0; j < d; j++) w += W_dec[source.index * d + j]! * g[base + j]!;
          edges.add(s, t, source.activation! * w);
        }
        let e = 0;
        for (let j = 0; j < d; j++) e += error[p * d + j]! * g[base + j]!;
        edges.add(errorStart + l * T + p, t, e);
      }
    }
    for (let p = 0; p <= node.pos; p++) edges.add(embeddingStart + p, t, embedEdge(p));
  };
  const local = (node: FeatureNode) => (node.kind === 'logit' ? direction.constant : model.readDirection(node.layer, node.index, node.pos).local);

  const useOnnx = (options.engine ?? 'onnx') === 'onnx' && set.inputHook === 'ln2.hook_normalized';
  const backward = useOnnx ? await BackwardRunner.create(replacementDecoder(decoder, set), 'replacement') : null;
  const rows = Math.max(1, options.batchSize ?? 32);
  try {
    let next = 0;
    while (next < targets.length) {
      const started = performance.now();
      do {
        if (backward) {
          const batch = targets.slice(next, next + rows);
          next += batch.length;
          const N = batch.length;
          const gradFinal = new Float32Array(N * T * d);
          const injects: Record<string, Tensor> = {};
          let deepest = 0;
          batch.forEach((t, row) => {
            const node = nodes[t]!;
            if (node.kind === 'logit') {
              deepest = L;
              gradFinal.set(direction.u, (row * T + node.pos) * d);
              return;
            }
            deepest = Math.max(deepest, node.layer);
            const name = backwardName.inject(node.layer);
            injects[name] ??= { shape: [N, T, d], data: new Float32Array(N * T * d) };
            injects[name].data.set(set.layers[node.layer]!.W_enc.data.subarray(node.index * d, (node.index + 1) * d), (row * T + node.pos) * d);
          });
          const fetch = [backwardName.edgesEmbed, backwardName.constants];
          for (let l = 0; l < deepest; l++) fetch.push(backwardName.gradResidPost(l));
          const out = await backward.run(cache, { [backwardName.gradFinal]: { shape: [N, T, d], data: gradFinal }, ...injects }, fetch);
          const embedEdges = out[backwardName.edgesEmbed]!.data;
          batch.forEach((t, row) => {
            record(t, (l) => out[backwardName.gradResidPost(l)]!.data, row * T * d, (p) => embedEdges[row * T + p]!, out[backwardName.constants]!.data[row]!, local(nodes[t]!));
          });
          done += batch.length;
        } else {
          const t = targets[next++]!;
          const node = nodes[t]!;
          const vector = node.kind === 'logit' ? direction.g : model.readDirection(node.layer, node.index, node.pos).vector;
          const grads = model.vjp(node.kind === 'logit' ? L : node.layer, node.pos, vector);
          record(t, (l) => grads.post[l]!, 0, (p) => dot(frozen.embed, grads.embed, p * d, d), grads.constant, local(node));
          done++;
        }
      } while (next < targets.length && performance.now() - started < stepMs);
      yield { phase: 'edges', done, total };
    }
  } finally {
    await backward?.dispose();
  }

  const graph: FeatureGraph = {
    tokens, target, distractor, logitDiff, targetProb, nodes,
    sources: edges.sources.slice(0, edges.length), targets: edges.targets.slice(0, edges.length), weights: edges.weights.slice(0, edges.length),
    scores: { replacement: 0, completeness: 0 },
    stats: { features: nFeatures, vjps: targets.length },
  };
  graph.scores = graphScores(graph);
  yield { phase: 'scores', done: total, total };
  return graph;
}


/** The decoder with each layer's skip matrix and MLP-output constant (b_dec + β₂ W_skipᵀ) added as
 * weights, for the backward graph's `replacement` mode. */
function replacementDecoder(decoder: Decoder, set: TranscoderSet): Decoder {
  const d = decoder.spec.dModel;
  const weights = { ...decoder.weights };
  set.layers.forEach((t, l) => {
    const offset = Float32Array.from(t.b_dec.data);
    const beta = decoder.weights[`blocks.${l}.ln2.b`]?.data;
    if (t.W_skip) {
      weights[`blocks.${l}.transcoder.W_skip`] = t.W_skip;
      if (beta) for (let i = 0; i < d; i++) {
        let acc = 0;
        for (let j = 0; j < d; j++) acc += t.W_skip.data[i * d + j]! * beta[j]!;
        offset[i]! += acc;
      }
    }
    weights[`blocks.${l}.transcoder.offset`] = { shape: [d], data: offset };
  });
  return { ...decoder, weights };
}


