/**
 * Direct effects of transcoder features on Δ = logit[P, target] − logit[P, distractor]: in the
 * replacement model the MLP of layer l writes ŷ = Σ_f a_f W_dec[f] + b_dec + x W_skipᵀ at P, so
 * with the final normalisation's scale frozen (as for neurons, INTERP.md) feature f's direct
 * effect is a_f (W_dec[f] · g), g the Δ direction read back through ln_final at P
 * (logit-direction.ts). The remaining terms of each layer (b_dec, the skip path, and the
 * transcoder's error y − ŷ) are reported per layer so the listing adds up to the MLP's own direct
 * effect y · g.
 *
 * Legend: P the last position, F features of a layer, d model width.
 */
import { hookName } from '../engine/hooks.js';
import type { AnalysisContext } from '../analysis/context.js';
import { logitDirection } from '../analysis/logit-direction.js';
import type { ResolvedQuestion } from '../analysis/question.js';
import type { FeatureEffect } from '../../shared/protocol.js';
import type { TranscoderRunner } from './forward.js';
import { transcoderHooks, transcoderInput } from './inputs.js';
import type { TranscoderSet } from './load.js';

export interface FeatureDirectEffects {
  /** Every active feature at P with its direct effect, strongest |effect| first. */
  features: FeatureEffect[];
  /** Per layer: the MLP output's direct effect y · g, and what the features do not carry of it
   * (b_dec and skip: `rest`; the transcoder's error: `error`). */
  layers: { layer: number; mlp: number; rest: number; error: number }[];
}

export async function featureDirectEffects(
  context: AnalysisContext, set: TranscoderSet, transcoders: TranscoderRunner, question: ResolvedQuestion,
): Promise<FeatureDirectEffects> {
  const decoder = context.model.decoder;
  const { dModel: d } = decoder.spec;
  const { tokens, target, distractor } = question;
  const P = tokens.length - 1;
  const hooks = [...new Set([hookName.lnFinalScale, ...set.layers.flatMap((t) => transcoderHooks(set.inputHook, t.layer))])];
  const { cache } = await context.runner.run([tokens], { hooks });
  const { g } = logitDirection(decoder, target, distractor, cache[hookName.lnFinalScale]!.data[P]!);
  const features: FeatureEffect[] = [];
  const layers: FeatureDirectEffects['layers'] = [];
  for (const t of set.layers) {
    const x = transcoderInput(set.inputHook, decoder, cache, t.layer);
    const { features: acts, reconstruction } = await transcoders.run(t.layer, x);
    const F = t.nFeatures;
    const W_dec = t.W_dec.data;
    let carried = 0;
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
  return { features, layers };
}
