/**
 * Effects on Δ = logit[P, target] − logit[P, distractor] (INTERP.md):
 *  - direct effects: the exact decomposition of Δ over the residual stream's components at P;
 *  - total effects: activation × gradient for every neuron and head at every position;
 *  - token effects: gradient × input per position, with batched occlusion as a cross-check.
 *
 * Runs as scheduler steps (steps.ts): one forward, direct effects a few layers at a time, one
 * backward, total effects a few layers at a time, occlusion in batches sized to take about
 * `stepMs`. Effects
 * live in typed arrays (no object per component and position: L·T·(m+H) of them on a long
 * prompt); the lists users see are chosen by typed-array top-k selection (select.ts).
 *
 * Legend: T positions, P = T − 1, L layers, H heads, dh head width, d width, m = d_mlp.
 */
import type { Tensor } from '../engine/decoder.js';
import { hookName } from '../engine/hooks.js';
import { backwardName } from '../engine/onnx/compile-backward.js';
import type { AnalysisContext } from './context.js';
import { dot, logitDirection } from './logit-direction.js';
import type { ResolvedQuestion } from './question.js';
import { topIndices } from './select.js';
import { runSteps, type Steps } from './steps.js';

export type ComponentKind = 'neuron' | 'head' | 'embed' | 'pos_embed' | 'bias';

export interface DirectEffect {
  kind: ComponentKind;
  layer: number;
  index: number;
  value: number;
  /** For biases: which one (`blocks.l.attn.b_O`, `blocks.l.mlp.b_out`). */
  name?: string;
}

export interface TotalEffect {
  kind: 'neuron' | 'head';
  layer: number;
  pos: number;
  index: number;
  value: number;
}

export interface TokenEffect {
  pos: number;
  grad_x_input: number;
  /** Δ(prompt) − Δ(prompt without this token). */
  occlusion: number;
}

/** Every effect, in typed arrays. */
export interface EffectArrays {
  tokens: number[];
  target: number;
  distractor: number;
  logit_diff: number;
  constant: number;
  /** L, H and m of the arrays below. */
  layers: number;
  heads: number;
  neurons: number;
  /** [L·m] direct effect at P of neuron (l, i) at l·m + i. */
  directNeuron: Float64Array;
  /** [L·H] direct effect at P of head (l, h) at l·H + h. */
  directHead: Float64Array;
  /** Embeddings and biases (a handful). */
  directOther: DirectEffect[];
  /** [L·T·m] total effect of neuron i of layer l at position p, at (l·T + p)·m + i. */
  totalNeuron: Float32Array;
  /** [L·T·H] total effect of head h of layer l at position p, at (l·T + p)·H + h. */
  totalHead: Float32Array;
  token_effects: TokenEffect[];
  warnings: string[];
}

/** The effects as lists (the CLI's JSON): every direct effect, and the largest total effects. */
export interface EffectsResult {
  tokens: number[];
  target: number;
  distractor: number;
  logit_diff: number;
  constant: number;
  direct: DirectEffect[];
  /** The `TOTAL_LISTED` total effects of largest magnitude, largest first. */
  total: TotalEffect[];
  token_effects: TokenEffect[];
  warnings: string[];
}

export const TOTAL_LISTED = 200;

export interface EffectsOptions {
  /** Layers of direct or total effects computed per step. */
  layersPerStep?: number;
  /** Most prompt tokens of occlusion variants per forward batch (variants = this / T, at least 1). */
  occlusionTokensPerStep?: number;
  /** Wall time one occlusion step aims at: variants per batch adapt to it (the server: 50 ms; default: no time target, the largest batches). */
  stepMs?: number;
}

function logitDiffAt(logits: Tensor, row: number, position: number, target: number, distractor: number): number {
  const [, T, V] = logits.shape as [number, number, number];
  const base = (row * T + position) * V;
  return logits.data[base + target]! - logits.data[base + distractor]!;
}

export function effectsSteps(context: AnalysisContext, question: ResolvedQuestion, options: EffectsOptions = {}): Steps<EffectArrays> {
  return effectsGenerator(context, question, options);
}

async function* effectsGenerator(context: AnalysisContext, question: ResolvedQuestion, options: EffectsOptions): Steps<EffectArrays> {
  const { decoder } = context.model;
  const { spec, weights } = decoder;
  const { nLayers: L, nHeads: H, dHead: dh, dModel: d, dMlp: m } = spec;
  const { tokens, target, distractor } = question;
  const T = tokens.length;
  const P = T - 1;
  const layersPerStep = Math.max(1, options.layersPerStep ?? 2);
  const maxVariants = Math.max(1, Math.floor((options.occlusionTokensPerStep ?? 256) / T));
  const stepMs = options.stepMs ?? Infinity;
  const variants = T < 2 ? 0 : T;
  const chunks = Math.ceil(L / layersPerStep);
  // Progress counts occlusion by variant (batches adapt in size).
  const total = 1 + chunks + 1 + chunks + variants;
  let done = 0;
  const progress = (phase: string, units = 1) => ({ phase, done: (done += units), total });

  const backward = await context.backwardRunner('full');
  const hooks = new Set([...backward.requiredHooks(), hookName.embed, hookName.lnFinalScale]);
  if (spec.positional.kind === 'learned') hooks.add(hookName.posEmbed);
  for (let l = 0; l < L; l++) hooks.add(hookName.z(l)).add(hookName.mlpPost(l));
  const { logits, cache } = await context.runner.run([tokens], { hooks: [...hooks], positions: 'last' });
  const logitDiff = logitDiffAt(logits, 0, 0, target, distractor);
  const direction = logitDirection(decoder, target, distractor, cache[hookName.lnFinalScale]!.data[P]!);
  const { g } = direction;
  yield progress('forward');

  // Direct effects at P.
  const directOther: DirectEffect[] = [];
  directOther.push({ kind: 'embed', layer: 0, index: 0, value: dot(cache[hookName.embed]!.data, P * d, g, 0, d) });
  if (spec.positional.kind === 'learned') {
    directOther.push({ kind: 'pos_embed', layer: 0, index: 0, value: dot(cache[hookName.posEmbed]!.data, P * d, g, 0, d) });
  }
  const directNeuron = new Float64Array(L * m);
  const directHead = new Float64Array(L * H);
  for (let l0 = 0; l0 < L; l0 += layersPerStep) {
    for (let l = l0; l < Math.min(L, l0 + layersPerStep); l++) {
      const W_O = weights[`blocks.${l}.attn.W_O`]!.data; // [H*dh, d]
      const z = cache[hookName.z(l)]!.data; // [1, T, H, dh]
      for (let h = 0; h < H; h++) {
        let value = 0;
        for (let j = 0; j < dh; j++) value += z[(P * H + h) * dh + j]! * dot(W_O, (h * dh + j) * d, g, 0, d);
        directHead[l * H + h] = value;
      }
      const b_O = weights[`blocks.${l}.attn.b_O`];
      if (b_O) directOther.push({ kind: 'bias', layer: l, index: 0, name: `blocks.${l}.attn.b_O`, value: dot(b_O.data, 0, g, 0, d) });
      const W_out = weights[`blocks.${l}.mlp.W_out`]!.data; // [m, d]
      const post = cache[hookName.mlpPost(l)]!.data; // [1, T, m]
      for (let i = 0; i < m; i++) directNeuron[l * m + i] = post[P * m + i]! * dot(W_out, i * d, g, 0, d);
      const b_out = weights[`blocks.${l}.mlp.b_out`];
      if (b_out) directOther.push({ kind: 'bias', layer: l, index: 1, name: `blocks.${l}.mlp.b_out`, value: dot(b_out.data, 0, g, 0, d) });
    }
    yield progress('direct');
  }

  // Total effects: one exact backward pass from Δ.
  const gradFinal = new Float32Array(T * d);
  gradFinal.set(direction.u, P * d);
  const fetch = [backwardName.gradEmbed];
  for (let l = 0; l < L; l++) fetch.push(backwardName.gradMlpPost(l), backwardName.gradZ(l));
  const grads = await backward.run(cache, { [backwardName.gradFinal]: { shape: [1, T, d], data: gradFinal } }, fetch);
  const gradEmbed = grads[backwardName.gradEmbed]!.data;
  const embed = cache[hookName.embed]!.data;
  const gradXInput = tokens.map((_, p) => dot(gradEmbed, p * d, embed, p * d, d));
  yield progress('backward');
  const totalNeuron = new Float32Array(L * T * m);
  const totalHead = new Float32Array(L * T * H);
  for (let l0 = 0; l0 < L; l0 += layersPerStep) {
    for (let l = l0; l < Math.min(L, l0 + layersPerStep); l++) {
      const post = cache[hookName.mlpPost(l)]!.data;
      const gradPost = grads[backwardName.gradMlpPost(l)]!.data;
      for (let k = 0; k < T * m; k++) totalNeuron[l * T * m + k] = post[k]! * gradPost[k]!;
      const z = cache[hookName.z(l)]!.data;
      const gradZ = grads[backwardName.gradZ(l)]!.data;
      for (let k = 0; k < T * H; k++) totalHead[l * T * H + k] = dot(z, k * dh, gradZ, k * dh, dh);
    }
    yield progress('total');
  }
  // The forward cache and gradients are done with: let them go before the long occlusion phase.
  for (const name of Object.keys(cache)) delete cache[name];
  for (const name of Object.keys(grads)) delete grads[name];

  // Token effects by occlusion: Δ(prompt) − Δ(prompt with token p dropped), a few variants per batch.
  const occlusion = new Float64Array(T);
  let perStep = Number.isFinite(stepMs) ? 1 : maxVariants;
  for (let p0 = 0; p0 < variants;) {
    const started = performance.now();
    const batch: number[][] = [];
    for (let p = p0; p < Math.min(variants, p0 + perStep); p++) batch.push(tokens.filter((_, q) => q !== p));
    const { logits: dropped } = await context.runner.run(batch, { positions: 'last' });
    batch.forEach((_, b) => { occlusion[p0 + b] = logitDiff - logitDiffAt(dropped, b, 0, target, distractor); });
    p0 += batch.length;
    const elapsed = Math.max(1, performance.now() - started);
    perStep = Math.max(1, Math.min(maxVariants, Math.round((batch.length * stepMs) / elapsed)));
    yield progress('occlusion', batch.length);
  }
  const token_effects = tokens.map((_, p) => ({ pos: p, grad_x_input: gradXInput[p]!, occlusion: occlusion[p]! }));
  return {
    tokens, target, distractor, logit_diff: logitDiff, constant: direction.constant, layers: L, heads: H, neurons: m,
    directNeuron, directHead, directOther, totalNeuron, totalHead, token_effects, warnings: question.warnings,
  };
}

/** One component effect, as the protocol lists it. */
export interface ListedEffect {
  kind: ComponentKind;
  layer: number;
  index: number;
  pos?: number;
  value: number;
}

/** The `count` most positive and `count` most negative of several typed arrays: per array a
 * top-k selection, then a small merge. Order: positives descending, then negatives from the
 * least to the most negative (a descending sort's head and tail). */
function extremesOf(groups: { values: ArrayLike<number>; effect: (k: number) => ListedEffect }[], count: number): ListedEffect[] {
  const pick = (sign: 1 | -1) => {
    const candidates = groups.flatMap(({ values, effect }) => Array.from(topIndices(values, count, sign), (k) => effect(k)));
    candidates.sort((a, b) => sign * (b.value - a.value));
    return candidates.slice(0, count);
  };
  return [...pick(1), ...pick(-1).reverse()];
}

/** The `count` components raising Δ most and the `count` lowering it most, by direct and by total effect. */
export function extremeEffects(effects: EffectArrays, count: number): { direct: ListedEffect[]; total: ListedEffect[] } {
  const { directNeuron, directHead, directOther, totalNeuron, totalHead, heads: H, neurons: m } = effects;
  const T = effects.tokens.length;
  const direct = extremesOf([
    { values: directNeuron, effect: (k) => ({ kind: 'neuron', layer: Math.floor(k / m), index: k % m, value: directNeuron[k]! }) },
    { values: directHead, effect: (k) => ({ kind: 'head', layer: Math.floor(k / H), index: k % H, value: directHead[k]! }) },
    { values: directOther.map((e) => e.value), effect: (k) => ({ kind: directOther[k]!.kind, layer: directOther[k]!.layer, index: directOther[k]!.index, value: directOther[k]!.value }) },
  ], count);
  const total = extremesOf([
    { values: totalNeuron, effect: (k) => ({ kind: 'neuron', layer: Math.floor(k / (T * m)), pos: Math.floor(k / m) % T, index: k % m, value: totalNeuron[k]! }) },
    { values: totalHead, effect: (k) => ({ kind: 'head', layer: Math.floor(k / (T * H)), pos: Math.floor(k / H) % T, index: k % H, value: totalHead[k]! }) },
  ], count);
  return { direct, total };
}

/** Every effect computed in one go (CLI, tests): direct effects as a list, the largest totals. */
export async function computeEffects(context: AnalysisContext, question: ResolvedQuestion): Promise<EffectsResult> {
  const effects = await runSteps(effectsSteps(context, question));
  return effectsAsLists(effects);
}

export function effectsAsLists(effects: EffectArrays): EffectsResult {
  const { directNeuron, directHead, directOther, layers: L, heads: H, neurons: m } = effects;
  const direct: DirectEffect[] = [...directOther];
  for (let l = 0; l < L; l++) {
    for (let h = 0; h < H; h++) direct.push({ kind: 'head', layer: l, index: h, value: directHead[l * H + h]! });
    for (let i = 0; i < m; i++) direct.push({ kind: 'neuron', layer: l, index: i, value: directNeuron[l * m + i]! });
  }
  const { total } = extremeEffects(effects, TOTAL_LISTED);
  total.sort((a, b) => Math.abs(b.value) - Math.abs(a.value));
  return {
    tokens: effects.tokens, target: effects.target, distractor: effects.distractor, logit_diff: effects.logit_diff,
    constant: effects.constant, direct, total: total.slice(0, TOTAL_LISTED) as TotalEffect[], token_effects: effects.token_effects, warnings: effects.warnings,
  };
}
