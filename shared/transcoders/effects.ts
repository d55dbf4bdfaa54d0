/**
 * Direct effects of transcoder features on Δ = logit[P, target] − logit[P, distractor]: in the
 * replacement model the MLP of layer l writes ŷ = Σ_f a_f W_dec[f] + b_dec + x W_skipᵀ at P, so
 * with the final normalisation's scale frozen (as for neurons, INTERP.md) feature f's direct
 * effect is a_f (W_dec[f] · g), g the Δ direction read back through ln_final at P
 * (logit-direction.ts). The remaining terms of each layer (b_dec, the skip path, and the
 * transcoder's error y − ŷ) are reported per layer so the listing adds up to the MLP's own direct
 * effect y · g.
 *
 * Total effects: a_{f,p} (W_dec[f] · ∂Δ/∂mlp_out_l[p]) for every active feature at every position,
 * the gradient from one exact backward pass of the real model (∂Δ/∂resid_post_l, equal to the
 * gradient at the MLP's output since resid_post = resid_mid + mlp_out): what Δ changes, to first
 * order, per unit of the feature's write, through every later path (attention, later MLPs, norms).
 *
 * Legend: P the last position, F features of a layer, d model width.
 */
import { hookName } from '../engine/hooks.js';
import { backwardName } from '../engine/onnx/compile-backward.js';
import type { AnalysisContext } from '../analysis/context.js';
import { logitDirection } from '../analysis/logit-direction.js';
import type { ResolvedQuestion } from '../analysis/question.js';
import type { FeatureEffect } from '../protocol.js';
import type { TranscoderRunner } from './forward.js';
import { transcoderHooks, transcoderInput } from './inputs.js';
import type { TranscoderSet } from './load.js';

export interface FeatureDirectEffects {
  /** Every active feature at P with its direct effect, strongest |effect| first. */
  features: FeatureEffect[];
  /** Per layer: the MLP output's direct effect y · g, and what the features do not carry of it
   * (b_dec and skip: `rest`; the transcoder's error: `error`). */
  layers: { layer: number; mlp: number; rest: number; error: number }[];
  /** Every active feature at every position with its total effect, strongest |effect| first. */
  total: FeatureEffect[];
}

export async function featureDirectEffects(
  context: AnalysisContext, set: TranscoderSet, transcoders: TranscoderRunner, question: ResolvedQuestion,
): Promise<FeatureDirectEffects> {
  const decoder = context.model.decoder;
  const { dModel: d } = decoder.spec;
  const { tokens, target, distractor } = question;
  const P = tokens.length - 1;
  const backward = await context.backwardRunner('full');
  const hooks = [...new Set([hookName.lnFinalScale, ...backward.requiredHooks(), ...set.layers.flatMap((t) => transcoderHooks(set.inputHook, t.layer))])];
  const { cache } = await context.runner.run([tokens], { hooks });
  const { g, u } = logitDirection(decoder, target, distractor, cache[hookName.lnFinalScale]!.data[P]!);
  const T = tokens.length;
  const gradFinal = new Float32Array(T * d);
  gradFinal.set(u, P * d);
  const grads = await backward.run(cache, { [backwardName.gradFinal]: { shape: [1, T, d], data: gradFinal } }, set.layers.map((t) => backwardName.gradResidPost(t.layer)));
  const total: FeatureEffect[] = [];
  const features: FeatureEffect[] = [];
  const layers: FeatureDirectEffects['layers'] = [];
  for (const t of set.layers) {
    const x = transcoderInput(set.inputHook, decoder, cache, t.layer);
    const { features: acts, reconstruction } = await transcoders.run(t.layer, x);
    const F = t.nFeatures;
    const W_dec = t.W_dec.data;
    let carried = 0;
    const grad = grads[backwardName.gradResidPost(t.layer)]!.data; // [T, d]
    for (let p = 0; p < T; p++) {
      for (let f = 0; f < F; f++) {
        const a = acts.data[p * F + f]!;
        if (!(a > 0)) continue;
        let w = 0;
        for (let j = 0; j < d; j++) w += W_dec[f * d + j]! * grad[p * d + j]!;
        total.push({ layer: t.layer, index: f, pos: p, activation: a, value: a * w });
      }
    }
    for (let f = 0; f < F; f++) {
      const a = acts.data[P * F + f]!;
      if (!(a > 0)) continue;
      let w = 0;
      for (let j = 0; j < d; j++) w += W_dec[f * d + j]! * g[j]!;
      features.push({ layer: t.layer, index: f, pos: P, activation: a, value: a * w });
      carried += a * w;
    }
    const y = cache[hookName.mlpOut(t.layer)]!.data;
    let mlp = 0;
    let yHat = 0;
    for (let j = 0; j < d; j++) {
      mlp += y[P * d + j]! * g[j]!;
      yHat += reconstruction.data[P * d + j]! * g[j]!;
    }
    layers.push({ layer: t.layer, mlp, rest: yHat - carried, error: mlp - yHat });
  }
  features.sort((a, b) => Math.abs(b.value) - Math.abs(a.value));
  total.sort((a, b) => Math.abs(b.value) - Math.abs(a.value));
  return { features, layers, total };
}
