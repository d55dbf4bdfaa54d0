/**
 * How well a transcoder set reconstructs a model's MLPs on one token sequence: per layer the
 * fraction of variance unexplained FVU = Σ‖y − ŷ‖² / Σ‖y − ȳ‖² (ȳ the mean over the positions),
 * the mean number of active features per token (L0) and L0 at each position. y is the layer's
 * `hook_mlp_out` from the engine, ŷ the transcoder's reconstruction of it from its input.
 *
 * Legend: T positions, d model width, F features.
 */
import type { Decoder } from '../../shared/engine/decoder.js';
import type { ModelRunner } from '../../shared/engine/runner.js';
import type { TranscoderRunner } from '../../shared/transcoders/forward.js';
import { transcoderHooks, transcoderInput, transcoderTarget } from '../../shared/transcoders/inputs.js';

export interface LayerFit {
  layer: number;
  features: number;
  fvu: number;
  l0: number;
  l0ByPosition: number[]; // [T]
}

export async function measureTranscoders(decoder: Decoder, runner: ModelRunner, transcoders: TranscoderRunner, tokens: number[]): Promise<LayerFit[]> {
  const { inputHook, layers } = transcoders.set;
  const hooks = layers.flatMap((t) => transcoderHooks(inputHook, t.layer));
  const { cache } = await runner.run([tokens], { hooks: [...new Set(hooks)] });
  const d = decoder.spec.dModel;
  const T = tokens.length;
  const fits: LayerFit[] = [];
  for (const t of layers) {
    const x = transcoderInput(inputHook, decoder, cache, t.layer);
    const y = transcoderTarget(decoder, cache, t.layer).data; // [T, d]
    const { features, reconstruction } = await transcoders.run(t.layer, x);
    const mean = new Float64Array(d);
    for (let i = 0; i < y.length; i++) mean[i % d] += y[i]! / T;
    let err = 0;
    let total = 0;
    for (let i = 0; i < y.length; i++) {
      err += (y[i]! - reconstruction.data[i]!) ** 2;
      total += (y[i]! - mean[i % d]!) ** 2;
    }
    const F = t.nFeatures;
    const l0ByPosition = Array.from({ length: T }, (_, p) => {
      let n = 0;
      for (let f = 0; f < F; f++) if (features.data[p * F + f]! > 0) n++;
      return n;
    });
    fits.push({ layer: t.layer, features: F, fvu: total > 0 ? err / total : NaN, l0: l0ByPosition.reduce((a, b) => a + b, 0) / T, l0ByPosition });
  }
  return fits;
}
