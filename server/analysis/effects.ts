/**
 * Effects on Δ = logit[P, target] − logit[P, distractor] (INTERP.md):
 *  - direct effects: the exact decomposition of Δ over the residual stream's components at P;
 *  - total effects: activation × gradient for every neuron and head at every position;
 *  - token effects: gradient × input per position, with batched occlusion as a cross-check.
 *
 * Legend: T positions, P = T − 1, L layers, H heads, dh head width, d width, m = d_mlp.
 */
import type { Tensor } from '../engine/decoder.js';
import { allHookNames, hookName } from '../engine/hooks.js';
import { backwardName } from '../engine/onnx/compile-backward.js';
import type { AnalysisContext } from './context.js';
import { dot, logitDirection } from './logit-direction.js';
import type { ResolvedQuestion } from './question.js';

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

export interface EffectsResult {
  tokens: number[];
  target: number;
  distractor: number;
  logit_diff: number;
  constant: number;
  direct: DirectEffect[];
  /** Every neuron and head at every position (callers sort and cut). */
  total: TotalEffect[];
  token_effects: TokenEffect[];
  warnings: string[];
}

function logitDiffAt(logits: Tensor, row: number, position: number, target: number, distractor: number): number {
  const [, T, V] = logits.shape as [number, number, number];
  const base = (row * T + position) * V;
  return logits.data[base + target]! - logits.data[base + distractor]!;
}

export async function computeEffects(context: AnalysisContext, question: ResolvedQuestion): Promise<EffectsResult> {
  const { decoder } = context.model;
  const { spec, weights } = decoder;
  const { nLayers: L, nHeads: H, dHead: dh, dModel: d, dMlp: m } = spec;
  const { tokens, target, distractor } = question;
  const T = tokens.length;
  const P = T - 1;
  const backward = await context.backwardRunner('full');
  const { logits, cache } = await context.runner.run([tokens], { hooks: [...new Set([...allHookNames(spec), ...backward.requiredHooks()])] });
  const logitDiff = logitDiffAt(logits, 0, P, target, distractor);
  const direction = logitDirection(decoder, target, distractor, cache[hookName.lnFinalScale]!.data[P]!);
  const { g } = direction;

  // Direct effects at P.
  const direct: DirectEffect[] = [];
  direct.push({ kind: 'embed', layer: 0, index: 0, value: dot(cache[hookName.embed]!.data, P * d, g, 0, d) });
  if (spec.positional.kind === 'learned') {
    direct.push({ kind: 'pos_embed', layer: 0, index: 0, value: dot(cache[hookName.posEmbed]!.data, P * d, g, 0, d) });
  }
  for (let l = 0; l < L; l++) {
    const W_O = weights[`blocks.${l}.attn.W_O`]!.data; // [H*dh, d]
    const z = cache[hookName.z(l)]!.data; // [1, T, H, dh]
    for (let h = 0; h < H; h++) {
      let value = 0;
      for (let j = 0; j < dh; j++) value += z[(P * H + h) * dh + j]! * dot(W_O, (h * dh + j) * d, g, 0, d);
      direct.push({ kind: 'head', layer: l, index: h, value });
    }
    const b_O = weights[`blocks.${l}.attn.b_O`];
    if (b_O) direct.push({ kind: 'bias', layer: l, index: 0, name: `blocks.${l}.attn.b_O`, value: dot(b_O.data, 0, g, 0, d) });
    const W_out = weights[`blocks.${l}.mlp.W_out`]!.data; // [m, d]
    const post = cache[hookName.mlpPost(l)]!.data; // [1, T, m]
    for (let i = 0; i < m; i++) {
      direct.push({ kind: 'neuron', layer: l, index: i, value: post[P * m + i]! * dot(W_out, i * d, g, 0, d) });
    }
    const b_out = weights[`blocks.${l}.mlp.b_out`];
    if (b_out) direct.push({ kind: 'bias', layer: l, index: 1, name: `blocks.${l}.mlp.b_out`, value: dot(b_out.data, 0, g, 0, d) });
  }

  // Total effects: one exact backward pass from Δ.
  const gradFinal = new Float32Array(T * d);
  gradFinal.set(direction.u, P * d);
  const fetch = [backwardName.gradEmbed];
  for (let l = 0; l < L; l++) fetch.push(backwardName.gradMlpPost(l), backwardName.gradZ(l));
  const grads = await backward.run(cache, { [backwardName.gradFinal]: { shape: [1, T, d], data: gradFinal } }, fetch);
  const total: TotalEffect[] = [];
  for (let l = 0; l < L; l++) {
    const post = cache[hookName.mlpPost(l)]!.data;
    const gradPost = grads[backwardName.gradMlpPost(l)]!.data;
    for (let p = 0; p < T; p++) {
      for (let i = 0; i < m; i++) total.push({ kind: 'neuron', layer: l, pos: p, index: i, value: post[p * m + i]! * gradPost[p * m + i]! });
    }
    const z = cache[hookName.z(l)]!.data;
    const gradZ = grads[backwardName.gradZ(l)]!.data;
    for (let p = 0; p < T; p++) {
      for (let h = 0; h < H; h++) total.push({ kind: 'head', layer: l, pos: p, index: h, value: dot(z, (p * H + h) * dh, gradZ, (p * H + h) * dh, dh) });
    }
  }

  // Token effects: gradient × input on each token embedding; occlusion as one batched run.
  const gradEmbed = grads[backwardName.gradEmbed]!.data;
  const embed = cache[hookName.embed]!.data;
  const occlusion = await occlusionEffects(context, tokens, target, distractor, logitDiff);
  const token_effects = tokens.map((_, p) => ({ pos: p, grad_x_input: dot(gradEmbed, p * d, embed, p * d, d), occlusion: occlusion[p]! }));

  return {
    tokens, target, distractor, logit_diff: logitDiff, constant: direction.constant,
    direct, total, token_effects, warnings: question.warnings,
  };
}

/** Δ(prompt) − Δ(prompt with token p dropped), for every p, in one batched run. */
async function occlusionEffects(
  context: AnalysisContext, tokens: number[], target: number, distractor: number, logitDiff: number,
): Promise<number[]> {
  if (tokens.length < 2) return tokens.map(() => 0);
  const variants = tokens.map((_, p) => tokens.filter((__, q) => q !== p));
  const { logits } = await context.runner.run(variants, { positions: 'last' });
  return variants.map((_, p) => logitDiff - logitDiffAt(logits, p, 0, target, distractor));
}
