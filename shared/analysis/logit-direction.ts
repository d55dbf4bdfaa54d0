/**
 * The Δ direction read back through the frozen final normalisation (INTERP.md, direct effect):
 * u = W_U[:, target] − W_U[:, distractor]; LayerNorm g = C(γ ⊙ u)/s, RMSNorm g = (γ ⊙ u)/s,
 * with s the final norm's actual scale at P; constant = β·u + b_U[target] − b_U[distractor].
 */
import type { Decoder } from '../engine/decoder.js';

export interface LogitDirection {
  /** [d] u = W_U[:, target] − W_U[:, distractor]. */
  u: Float32Array;
  /** [d] the direction in the residual stream at P whose dot product gives Δ (minus constant). */
  g: Float64Array;
  /** Terms of Δ no component carries. */
  constant: number;
}

export function logitDirection(decoder: Decoder, target: number, distractor: number, finalScale: number): LogitDirection {
  const { dModel: d, vocabSize: V, norm } = decoder.spec;
  const W_U = decoder.weights['unembed.W_U']!.data;
  const gamma = decoder.weights['ln_final.w']!.data;
  const beta = decoder.weights['ln_final.b']?.data;
  const bU = decoder.weights['unembed.b_U']?.data;
  const u = new Float32Array(d);
  for (let i = 0; i < d; i++) u[i] = W_U[i * V + target]! - W_U[i * V + distractor]!;
  const g = new Float64Array(d);
  for (let i = 0; i < d; i++) g[i] = gamma[i]! * u[i]!;
  if (norm.kind === 'layernorm') {
    const mean = g.reduce((a, b) => a + b, 0) / d;
    for (let i = 0; i < d; i++) g[i]! -= mean;
  }
  for (let i = 0; i < d; i++) g[i]! /= finalScale;
  let constant = bU ? bU[target]! - bU[distractor]! : 0;
  if (beta) for (let i = 0; i < d; i++) constant += beta[i]! * u[i]!;
  return { u, g, constant };
}

/** x · y over `length` elements starting at offsets. */
export function dot(x: ArrayLike<number>, xOffset: number, y: ArrayLike<number>, yOffset: number, length: number): number {
  let acc = 0;
  for (let i = 0; i < length; i++) acc += x[xOffset + i]! * y[yOffset + i]!;
  return acc;
}

/** softmax(logits)[id], for one position's logits [V] (the target's probability in graph metadata). */
export function tokenProbability(logits: Float32Array, id: number): number {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  return Math.exp(logits[id]! - max) / sum;
}
