/**
 * A transcoder's input and target from an engine run, for one layer l:
 *   `hook_resid_mid`        blocks.{l}.hook_resid_mid as it is;
 *   `ln2.hook_normalized`   the MLP's input after ln2 with γ and β. The engine exposes
 *                           resid_mid and ln2's scale s = √(var + ε) (LayerNorm) or √(mean x² + ε)
 *                           (RMSNorm), so the normalised input is rebuilt exactly as the graph
 *                           computes it: γ (x − μ) / s + β, or γ x / s;
 *   target                  blocks.{l}.hook_mlp_out.
 * Cache tensors have a leading batch dimension ([B, T, d]); results flatten it to [B·T, d].
 *
 * Legend: B batch, T positions, d model width.
 */
import type { Decoder, Tensor } from '../engine/decoder.js';
import { hookName } from '../engine/hooks.js';
import type { TranscoderInputHook } from './load.js';

/** The hooks a run must return to build layer l's input and target. */
export function transcoderHooks(inputHook: TranscoderInputHook, layer: number): string[] {
  return inputHook === 'hook_resid_mid'
    ? [hookName.residMid(layer), hookName.mlpOut(layer)]
    : [hookName.residMid(layer), hookName.ln2Scale(layer), hookName.mlpOut(layer)];
}

/** Layer l's transcoder input [B·T, d] from a run's cache. */
export function transcoderInput(inputHook: TranscoderInputHook, decoder: Decoder, cache: Record<string, Tensor>, layer: number): Tensor {
  const resid = need(cache, hookName.residMid(layer));
  const d = decoder.spec.dModel;
  const n = resid.data.length / d;
  if (inputHook === 'hook_resid_mid') return { shape: [n, d], data: resid.data };
  const scale = need(cache, hookName.ln2Scale(layer)); // [B, T, 1]
  const gamma = decoder.weights[`blocks.${layer}.ln2.w`]!.data; // [d]
  const beta = decoder.weights[`blocks.${layer}.ln2.b`]?.data; // [d], LayerNorm only
  const centre = decoder.spec.norm.kind === 'layernorm';
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = resid.data.subarray(i * d, (i + 1) * d);
    let mean = 0;
    if (centre) {
      for (let j = 0; j < d; j++) mean += row[j]!;
      mean /= d;
    }
    const s = scale.data[i]!;
    for (let j = 0; j < d; j++) out[i * d + j] = ((row[j]! - mean) / s) * gamma[j]! + (beta ? beta[j]! : 0);
  }
  return { shape: [n, d], data: out };
}

/** Layer l's MLP output [B·T, d], the transcoder's target. */
export function transcoderTarget(decoder: Decoder, cache: Record<string, Tensor>, layer: number): Tensor {
  const y = need(cache, hookName.mlpOut(layer));
  const d = decoder.spec.dModel;
  return { shape: [y.data.length / d, d], data: y.data };
}

function need(cache: Record<string, Tensor>, name: string): Tensor {
  const t = cache[name];
  if (!t) throw new Error(`transcoder inputs: the run did not return ${name}`);
  return t;
}
