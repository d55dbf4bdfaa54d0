/**
 * An independent float64 reference for feature-graph edges: the linearised replacement model run
 * FORWARD (a Jacobian-vector product, plain loops), where server/transcoders/graph.ts runs it
 * backward. A source's write is placed in the residual stream after its layer and pushed through
 * each later block: frozen-pattern attention (ln1 with its actual scale, W_V, pattern, W_O, no
 * biases) and the transcoder's skip path (ln2 with its actual scale, W_skip); then read by the
 * target feature's encoder row through ln2, or by the Δ direction through ln_final.
 * Shares no code with server/transcoders/.
 */
import type { Decoder, Tensor } from '../../../shared/engine/decoder.js';

export interface ReferenceWeights {
  W_enc: Float32Array; // [F, d]
  W_skip?: Float32Array; // [d, d]
}

export interface ReferenceModel {
  decoder: Decoder;
  /** Frozen scales and patterns of the prompt. */
  ln1Scale: Tensor[];
  ln2Scale: Tensor[];
  pattern: Tensor[];
  finalScale: number;
  layers: ReferenceWeights[];
  /** True when transcoders read blocks.l.ln2.hook_normalized, false for hook_resid_mid. */
  normalisedInput: boolean;
  T: number;
  target: number;
  distractor: number;
}

function normLinear(m: ReferenceModel, v: Float64Array, gammaName: string, scale: number): Float64Array {
  const d = v.length;
  const gamma = m.decoder.weights[gammaName]!.data;
  let mean = 0;
  if (m.decoder.spec.norm.kind === 'layernorm') {
    for (let j = 0; j < d; j++) mean += v[j]!;
    mean /= d;
  }
  const out = new Float64Array(d);
  for (let j = 0; j < d; j++) out[j] = (gamma[j]! * (v[j]! - mean)) / scale;
  return out;
}

function row(delta: Float64Array[], p: number): Float64Array {
  return delta[p]!;
}

/** The edge from a write at (after `layer`, `pos`) (layer −1: the embeddings) into a target. */
export function referenceEdge(
  m: ReferenceModel, source: { layer: number; pos: number; write: Float64Array },
  target: { kind: 'feature'; layer: number; index: number; pos: number } | { kind: 'logit' },
): number {
  const { spec, weights } = m.decoder;
  const { dModel: d, nHeads: H, nKvHeads: Hkv, dHead: dh, nLayers: L, vocabSize: V } = spec;
  const T = m.T;
  let delta: Float64Array[] = Array.from({ length: T }, () => new Float64Array(d));
  delta[source.pos]!.set(source.write);
  const last = target.kind === 'feature' ? target.layer : L;
  for (let l = source.layer + 1; l <= Math.min(last, L - 1); l++) {
    // Attention with frozen patterns.
    const W_V = weights[`blocks.${l}.attn.W_V`]!.data;
    const W_O = weights[`blocks.${l}.attn.W_O`]!.data;
    const values: Float64Array[] = [];
    for (let k = 0; k < T; k++) {
      const x = normLinear(m, row(delta, k), `blocks.${l}.ln1.w`, m.ln1Scale[l]!.data[k]!);
      const v = new Float64Array(Hkv * dh);
      for (let c = 0; c < Hkv * dh; c++) for (let i = 0; i < d; i++) v[c]! += x[i]! * W_V[i * Hkv * dh + c]!;
      values.push(v);
    }
    const next = delta.map((r) => Float64Array.from(r));
    for (let q = 0; q < T; q++) {
      for (let h = 0; h < H; h++) {
        const kv = Math.floor(h / (H / Hkv));
        const z = new Float64Array(dh);
        for (let k = 0; k < T; k++) {
          const a = m.pattern[l]!.data[(h * T + q) * T + k]!;
          for (let e = 0; e < dh; e++) z[e]! += a * values[k]![kv * dh + e]!;
        }
        for (let e = 0; e < dh; e++) for (let j = 0; j < d; j++) next[q]![j]! += z[e]! * W_O[(h * dh + e) * d + j]!;
      }
    }
    delta = next;
    if (l === last) break;
    // The replacement MLP: only its skip path is linear in the residual stream.
    const W_skip = m.layers[l]!.W_skip;
    if (!W_skip) continue;
    for (let p = 0; p < T; p++) {
      const x = m.normalisedInput ? normLinear(m, row(delta, p), `blocks.${l}.ln2.w`, m.ln2Scale[l]!.data[p]!) : Float64Array.from(row(delta, p));
      const add = new Float64Array(d);
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) add[i]! += W_skip[i * d + j]! * x[j]!;
      for (let i = 0; i < d; i++) delta[p]![i]! += add[i]!;
    }
  }
  if (target.kind === 'feature') {
    const { layer, index, pos } = target;
    const x = m.normalisedInput ? normLinear(m, row(delta, pos), `blocks.${layer}.ln2.w`, m.ln2Scale[layer]!.data[pos]!) : row(delta, pos);
    let s = 0;
    for (let j = 0; j < d; j++) s += m.layers[layer]!.W_enc[index * d + j]! * x[j]!;
    return s;
  }
  const x = normLinear(m, row(delta, T - 1), 'ln_final.w', m.finalScale);
  const W_U = weights['unembed.W_U']!.data;
  let s = 0;
  for (let j = 0; j < d; j++) s += x[j]! * (W_U[j * V + m.target]! - W_U[j * V + m.distractor]!);
  return s;
}
