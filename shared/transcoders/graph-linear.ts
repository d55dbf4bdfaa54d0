/**
 * The transcoder replacement model linearised around a prompt, as float64 maps on the residual
 * stream (graph.ts uses it for sets reading resid_mid, and on request): attention patterns and
 * normalisation scales frozen, each MLP its transcoder, whose skip path x W_skipᵀ stays linear.
 * Legend: T positions, d width, H heads, Hkv kv heads, dh head width.
 */
import type { Decoder } from '../engine/decoder.js';
import type { TranscoderSet } from './load.js';

/** Everything the linear replacement model needs, in float64. */
export interface Frozen {
  T: number;
  tokens: number[];
  embed: Float64Array; // [T, d]
  posEmbed: Float64Array | null; // [T, d]
  ln1Scale: Float64Array[]; // per layer [T]
  ln2Scale: Float64Array[]; // per layer [T]
  pattern: Float64Array[]; // per layer [H, T, T]
}

export function dot(x: Float64Array, y: Float64Array, offset: number, length: number): number {
  let acc = 0;
  for (let j = offset; j < offset + length; j++) acc += x[j]! * y[j]!;
  return acc;
}

/**
 * The replacement model linearised around the prompt, as float64 maps on the residual stream.
 * `vjp` pulls a read direction at (layer, pos) back to every resid_post below it and to the
 * embeddings, collecting the constant terms (biases, norm offsets, position embeddings) on the way.
 */
export class LinearReplacement {
  private readonly d: number;
  private readonly layerNorm: boolean;

  constructor(private readonly decoder: Decoder, private readonly set: TranscoderSet, private readonly frozen: Frozen) {
    this.d = decoder.spec.dModel;
    this.layerNorm = decoder.spec.norm.kind === 'layernorm';
  }

  private weight(name: string): Float32Array | undefined {
    return this.decoder.weights[name]?.data;
  }

  private get readsNormalised(): boolean {
    return this.set.inputHook === 'ln2.hook_normalized';
  }

  /** Layer l's transcoder input at position p, in float64, from resid_mid. */
  input(l: number, residMid: Float32Array, p: number): Float64Array {
    const { d } = this;
    const x = new Float64Array(d);
    for (let j = 0; j < d; j++) x[j] = residMid[p * d + j]!;
    if (!this.readsNormalised) return x;
    const gamma = this.weight(`blocks.${l}.ln2.w`)!;
    const beta = this.weight(`blocks.${l}.ln2.b`);
    let mean = 0;
    if (this.layerNorm) mean = x.reduce((a, b) => a + b, 0) / d;
    const s = this.frozen.ln2Scale[l]![p]!;
    for (let j = 0; j < d; j++) x[j] = ((x[j]! - mean) / s) * gamma[j]! + (beta ? beta[j]! : 0);
    return x;
  }

  /** b_dec + x W_skipᵀ for a transcoder input x. */
  skip(l: number, x: Float64Array): Float64Array {
    const { d } = this;
    const t = this.set.layers[l]!;
    const out = Float64Array.from(t.b_dec.data);
    const W = t.W_skip?.data;
    if (W) for (let i = 0; i < d; i++) {
      let acc = 0;
      for (let j = 0; j < d; j++) acc += W[i * d + j]! * x[j]!;
      out[i]! += acc;
    }
    return out;
  }

  /** Frozen-scale backward through a normalisation: C(γ ⊙ g)/s (LayerNorm) or (γ ⊙ g)/s. */
  private normBack(g: Float64Array, gamma: Float32Array, scale: number): Float64Array {
    const { d } = this;
    const out = new Float64Array(d);
    for (let j = 0; j < d; j++) out[j] = gamma[j]! * g[j]!;
    if (this.layerNorm) {
      const mean = out.reduce((a, b) => a + b, 0) / d;
      for (let j = 0; j < d; j++) out[j]! -= mean;
    }
    for (let j = 0; j < d; j++) out[j]! /= scale;
    return out;
  }

  /** Feature i of layer l at p: its read direction on resid_mid(l) and its local constant. */
  readDirection(l: number, i: number, p: number): { vector: Float64Array; local: number } {
    const { d } = this;
    const t = this.set.layers[l]!;
    const v = Float64Array.from(t.W_enc.data.subarray(i * d, (i + 1) * d));
    let local = t.b_enc.data[i]!;
    if (!this.readsNormalised) return { vector: v, local };
    const beta = this.weight(`blocks.${l}.ln2.b`);
    if (beta) for (let j = 0; j < d; j++) local += beta[j]! * v[j]!;
    return { vector: this.normBack(v, this.weight(`blocks.${l}.ln2.w`)!, this.frozen.ln2Scale[l]![p]!), local };
  }

  /**
   * Pulls `vector` at position `pos` back from resid_mid(layer) (layer < L) or from the final
   * residual (layer = L). Returns the gradient at resid_post(l) for every l < layer, at the
   * embeddings, and the constant terms met on the way.
   */
  vjp(layer: number, pos: number, vector: Float64Array): { post: Float64Array[]; embed: Float64Array; constant: number } {
    const { d } = this;
    const { T } = this.frozen;
    const L = this.decoder.spec.nLayers;
    let G = new Float64Array(T * d);
    G.set(vector, pos * d);
    const acc = { constant: 0 };
    let l = layer;
    if (layer < L) {
      this.attentionBack(layer, G, pos, acc); // now at resid_pre(layer)
      l = layer - 1;
    } else {
      l = L - 1;
    }
    const post: Float64Array[] = new Array(Math.max(0, l + 1));
    for (; l >= 0; l--) {
      post[l] = Float64Array.from(G);
      const t = this.set.layers[l]!;
      // mlp_out = b_dec + x W_skipᵀ + (nodes); x = γ C(r)/s + β on the normalised input.
      const W = t.W_skip?.data;
      const beta = this.readsNormalised ? this.weight(`blocks.${l}.ln2.b`) : undefined;
      for (let p = 0; p <= pos; p++) {
        const g = G.subarray(p * d, (p + 1) * d);
        for (let j = 0; j < d; j++) acc.constant += g[j]! * t.b_dec.data[j]!;
        if (!W) continue;
        const gx = new Float64Array(d); // g W_skip
        for (let i = 0; i < d; i++) {
          const gi = g[i]!;
          if (gi === 0) continue;
          for (let j = 0; j < d; j++) gx[j]! += gi * W[i * d + j]!;
        }
        if (beta) for (let j = 0; j < d; j++) acc.constant += gx[j]! * beta[j]!;
        const back = this.readsNormalised ? this.normBack(gx, this.weight(`blocks.${l}.ln2.w`)!, this.frozen.ln2Scale[l]![p]!) : gx;
        for (let j = 0; j < d; j++) g[j]! += back[j]!;
      }
      this.attentionBack(l, G, pos, acc);
    }
    const posEmbed = this.frozen.posEmbed;
    if (posEmbed) acc.constant += dot(posEmbed, G, 0, (pos + 1) * d);
    const embed = G;
    G = new Float64Array(0);
    return { post, embed, constant: acc.constant };
  }

  /** In place: G at resid_mid(l) → G at resid_pre(l) through the frozen attention (OV path). */
  private attentionBack(l: number, G: Float64Array, pos: number, acc: { constant: number }): void {
    const { d } = this;
    const { T } = this.frozen;
    const { nHeads: H, nKvHeads: Hkv, dHead: dh } = this.decoder.spec;
    const group = H / Hkv;
    const n = Hkv * dh;
    const W_O = this.weight(`blocks.${l}.attn.W_O`)!; // [H·dh, d]
    const W_V = this.weight(`blocks.${l}.attn.W_V`)!; // [d, Hkv·dh]
    const b_O = this.weight(`blocks.${l}.attn.b_O`);
    const b_V = this.weight(`blocks.${l}.attn.b_V`);
    const beta = this.weight(`blocks.${l}.ln1.b`);
    const pattern = this.frozen.pattern[l]!;
    const gZ = new Float64Array((pos + 1) * H * dh);
    for (let q = 0; q <= pos; q++) {
      for (let j = 0; j < d; j++) {
        const g = G[q * d + j]!;
        if (b_O) acc.constant += g * b_O[j]!;
      }
      for (let e = 0; e < H * dh; e++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += W_O[e * d + j]! * G[q * d + j]!;
        gZ[q * H * dh + e] = s;
      }
    }
    const gV = new Float64Array((pos + 1) * n);
    for (let h = 0; h < H; h++) {
      const kv = Math.floor(h / group);
      for (let q = 0; q <= pos; q++) {
        for (let k = 0; k <= q; k++) {
          const a = pattern[(h * T + q) * T + k]!;
          if (a === 0) continue;
          for (let e = 0; e < dh; e++) gV[k * n + kv * dh + e]! += a * gZ[q * H * dh + h * dh + e]!;
        }
      }
    }
    const gamma = this.weight(`blocks.${l}.ln1.w`)!;
    for (let k = 0; k <= pos; k++) {
      const gIn = new Float64Array(d);
      if (b_V) for (let j = 0; j < n; j++) acc.constant += gV[k * n + j]! * b_V[j]!;
      for (let i = 0; i < d; i++) { // row-major W_V: read contiguously
        let s = 0;
        for (let j = 0; j < n; j++) s += W_V[i * n + j]! * gV[k * n + j]!;
        gIn[i] = s;
      }
      if (beta) for (let i = 0; i < d; i++) acc.constant += gIn[i]! * beta[i]!;
      const back = this.normBack(gIn, gamma, this.frozen.ln1Scale[l]![k]!);
      for (let i = 0; i < d; i++) G[k * d + i]! += back[i]!;
    }
  }
}

