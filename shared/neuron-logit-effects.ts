/**
 * What a neuron writes, per unit of activation, in plain loops: its output weights W_out[i, :]
 * read through the unembedding with the final normalisation folded in (centred and times γ for
 * LayerNorm, times γ for RMSNorm; biases left out), and the K most promoted and suppressed tokens.
 *   effect[v] = Σ_j fold(W_out[i, :])[j] · W_U[j, v]
 * The reference for server/neurons/logit-effects.ts's batched ONNX graph, the CLI's path, and
 * the in-browser engine's answer to neuron:details (no corpus index there).
 *
 * Legend: d width, V tokens the tokenizer knows (padded model vocabulary rows are left out),
 * K effects kept on each side.
 */
import type { Decoder } from './engine/decoder.js';

export const LOGIT_EFFECTS = 10;

export interface TokenEffects {
  /** Token ids and values, most promoted first. */
  promoted: { token: number; value: number }[];
  /** Most suppressed (most negative) first. */
  suppressed: { token: number; value: number }[];
}

/** fold(row) into `out` [d]: what a write direction `row` [d] adds to each logit, per unit, before
 * the unembedding (centred for LayerNorm, times ln_final's γ). */
export function foldRow(decoder: Decoder, row: ArrayLike<number>, out: Float32Array = new Float32Array(decoder.spec.dModel)): Float32Array {
  const { dModel: d, norm } = decoder.spec;
  const gamma = decoder.weights['ln_final.w']!.data; // [d]
  let mean = 0;
  if (norm.kind === 'layernorm') {
    for (let j = 0; j < d; j++) mean += row[j]!;
    mean /= d;
  }
  for (let j = 0; j < d; j++) out[j] = (row[j]! - mean) * gamma[j]!;
  return out;
}

/** fold(W_out[index, :]) into `out` [d]. */
export function foldedRow(decoder: Decoder, layer: number, index: number, out: Float32Array = new Float32Array(decoder.spec.dModel)): Float32Array {
  const d = decoder.spec.dModel;
  const W_out = decoder.weights[`blocks.${layer}.mlp.W_out`]!.data; // [d_mlp, d]
  return foldRow(decoder, W_out.subarray(index * d, (index + 1) * d), out);
}

/** The K largest and K smallest of values[0..V) (ties: the lower token id first). */
export function extremes(values: ArrayLike<number>, V: number, K = LOGIT_EFFECTS): TokenEffects {
  const pick = (better: (a: number, b: number) => boolean) => {
    const ids: number[] = [];
    for (let v = 0; v < V; v++) {
      if (ids.length === K) {
        if (!better(values[v]!, values[ids[K - 1]!]!)) continue;
        ids.pop();
      }
      let at = ids.length;
      while (at > 0 && better(values[v]!, values[ids[at - 1]!]!)) at--;
      ids.splice(at, 0, v);
    }
    return ids.map((token) => ({ token, value: values[token]! }));
  };
  return { promoted: pick((a, b) => a > b), suppressed: pick((a, b) => a < b) };
}

/** One neuron's effects in plain loops (float64 sums): the reference, and the CLI's path. */
export function logitEffectsOf(decoder: Decoder, vocabSize: number, layer: number, index: number, K = LOGIT_EFFECTS): TokenEffects {
  return foldedEffects(decoder, vocabSize, foldedRow(decoder, layer, index), K);
}

/** The effects of a folded row [d] in plain loops (float64 sums). */
export function foldedEffects(decoder: Decoder, vocabSize: number, row: Float32Array, K = LOGIT_EFFECTS): TokenEffects {
  const { dModel: d, vocabSize: modelV } = decoder.spec;
  const W_U = decoder.weights['unembed.W_U']!.data; // [d, V_model]
  const V = Math.min(vocabSize, modelV);
  const effect = new Float64Array(V);
  for (let j = 0; j < d; j++) {
    const w = row[j]!;
    const base = j * modelV;
    for (let v = 0; v < V; v++) effect[v]! += w * W_U[base + v]!;
  }
  return extremes(effect, V, K);
}
