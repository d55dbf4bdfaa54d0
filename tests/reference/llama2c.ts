/**
 * llama2.c reference: reads a version-0 `.bin` checkpoint and its tokenizer `.bin` itself and runs
 * a float64 plain-loop forward pass in llama2.c's OWN conventions (see
 * shared/fixtures/stories260K/README.md). Logits only. Shares no code with server/.
 *
 * Checkpoint: 7 × int32 header (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
 * seq_len; negative vocab_size = unshared classifier), then float32 arrays:
 *   token_embedding [V, dim]; rms_att [L, dim]; wq [L, dim, dim]; wk [L, kv_dim, dim];
 *   wv [L, kv_dim, dim]; wo [L, dim, dim]; rms_ffn [L, dim]; w1 [L, hidden, dim];
 *   w2 [L, dim, hidden]; w3 [L, hidden, dim]; rms_final [dim];
 *   two legacy RoPE tables [seq_len, head_size/2] (skipped); wcls [V, dim] only when unshared.
 * Matrices are [out, in] (y = W x). RMSNorm eps 1e-5.
 * RoPE rotates CONSECUTIVE pairs (2i, 2i+1) of each head by pos · 10000^(−2i/head_size).
 * MLP: w2(silu(w1 x) ⊙ w3 x). Query head h reads KV head floor(h / (n_heads / n_kv_heads)).
 */
import { readFileSync } from 'node:fs';

export interface Llama2cConfig {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  sharedClassifier: boolean;
}

export interface Llama2cWeights {
  tokenEmbedding: Float32Array; // [V, dim]
  rmsAtt: Float32Array; // [L, dim]
  wq: Float32Array; // [L, dim, dim]
  wk: Float32Array; // [L, kvDim, dim]
  wv: Float32Array; // [L, kvDim, dim]
  wo: Float32Array; // [L, dim, dim]
  rmsFfn: Float32Array; // [L, dim]
  w1: Float32Array; // [L, hidden, dim]
  w2: Float32Array; // [L, dim, hidden]
  w3: Float32Array; // [L, hidden, dim]
  rmsFinal: Float32Array; // [dim]
  wcls: Float32Array; // [V, dim] (the token embedding when shared)
}

export interface Llama2cCheckpoint {
  config: Llama2cConfig;
  weights: Llama2cWeights;
}

export function readLlama2c(path: string | URL): Llama2cCheckpoint {
  const buf = readFileSync(path);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const h = (i: number) => view.getInt32(4 * i, true);
  const config: Llama2cConfig = {
    dim: h(0),
    hiddenDim: h(1),
    nLayers: h(2),
    nHeads: h(3),
    nKvHeads: h(4),
    vocabSize: Math.abs(h(5)),
    seqLen: h(6),
    sharedClassifier: h(5) > 0,
  };
  const { dim, hiddenDim, nLayers: L, nHeads, nKvHeads, vocabSize: V, seqLen } = config;
  const headSize = dim / nHeads;
  const kvDim = (dim * nKvHeads) / nHeads;

  let offset = 28; // bytes
  const take = (n: number): Float32Array => {
    if (offset + 4 * n > buf.byteLength) throw new Error(`llama2c: ${path} is truncated`);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(offset + 4 * i, true);
    offset += 4 * n;
    return out;
  };
  const tokenEmbedding = take(V * dim);
  const rmsAtt = take(L * dim);
  const wq = take(L * dim * dim);
  const wk = take(L * kvDim * dim);
  const wv = take(L * kvDim * dim);
  const wo = take(L * dim * dim);
  const rmsFfn = take(L * dim);
  const w1 = take(L * hiddenDim * dim);
  const w2 = take(L * dim * hiddenDim);
  const w3 = take(L * hiddenDim * dim);
  const rmsFinal = take(dim);
  take(seqLen * (headSize / 2)); // legacy freq_cis_real
  take(seqLen * (headSize / 2)); // legacy freq_cis_imag
  const wcls = config.sharedClassifier ? tokenEmbedding : take(V * dim);
  const weights = { tokenEmbedding, rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3, rmsFinal, wcls };
  return { config, weights };
}

/** Logits [T, V] (row-major) for the token ids, every position. */
export function llama2cLogits(ckpt: Llama2cCheckpoint, ids: number[]): Float64Array {
  const { dim: d, hiddenDim: dff, nLayers: L, nHeads: H, nKvHeads: Hkv, vocabSize: V, seqLen } = ckpt.config;
  const W = ckpt.weights;
  const dh = d / H;
  const kvDim = Hkv * dh;
  const group = H / Hkv;
  const eps = 1e-5;
  const T = ids.length;
  if (T > seqLen) throw new Error(`llama2c: ${T} tokens exceed seq_len ${seqLen}`);

  // x [T, d] = token_embedding[ids]
  const x = new Float64Array(T * d);
  for (let t = 0; t < T; t++) for (let i = 0; i < d; i++) x[t * d + i] = W.tokenEmbedding[ids[t]! * d + i]!;

  const xb = new Float64Array(T * d); // normed input  [T, d]
  const q = new Float64Array(T * d); // [T, H, dh]
  const k = new Float64Array(T * kvDim); // [T, Hkv, dh]
  const v = new Float64Array(T * kvDim); // [T, Hkv, dh]
  const att = new Float64Array(T); // one row of scores
  const z = new Float64Array(T * d); // [T, H, dh]
  const hb = new Float64Array(T * dff); // [T, hidden]
  const hb2 = new Float64Array(T * dff); // [T, hidden]
  const tmp = new Float64Array(T * d); // [T, d]

  for (let l = 0; l < L; l++) {
    // attention rmsnorm
    rmsNorm(x, T, d, W.rmsAtt, l * d, eps, xb);
    // q, k, v = W xb  (matrices [out, in] at layer offsets)
    matmul(xb, T, d, d, W.wq, l * d * d, q);
    matmul(xb, T, d, kvDim, W.wk, l * kvDim * d, k);
    matmul(xb, T, d, kvDim, W.wv, l * kvDim * d, v);

    // RoPE, llama2.c style: consecutive pairs (j, j+1), j even, frequency 10000^(−(j mod dh)/dh)
    for (let t = 0; t < T; t++) {
      for (let j = 0; j < d; j += 2) {
        const freq = 1 / Math.pow(10000, (j % dh) / dh);
        const cos = Math.cos(t * freq);
        const sin = Math.sin(t * freq);
        const rot = (vec: Float64Array, n: number) => {
          const a = vec[t * n + j]!;
          const b = vec[t * n + j + 1]!;
          vec[t * n + j] = a * cos - b * sin;
          vec[t * n + j + 1] = a * sin + b * cos;
        };
        rot(q, d);
        if (j < kvDim) rot(k, kvDim);
      }
    }

    // causal multi-head attention with grouped KV heads
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        const kv = Math.floor(h / group);
        let max = -Infinity;
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let i = 0; i < dh; i++) dot += q[t * d + h * dh + i]! * k[s * kvDim + kv * dh + i]!;
          att[s] = dot / Math.sqrt(dh);
          if (att[s]! > max) max = att[s]!;
        }
        let sum = 0;
        for (let s = 0; s <= t; s++) {
          att[s] = Math.exp(att[s]! - max);
          sum += att[s]!;
        }
        for (let i = 0; i < dh; i++) {
          let acc = 0;
          for (let s = 0; s <= t; s++) acc += (att[s]! / sum) * v[s * kvDim + kv * dh + i]!;
          z[t * d + h * dh + i] = acc;
        }
      }
    }

    // x += wo z
    matmul(z, T, d, d, W.wo, l * d * d, tmp);
    for (let i = 0; i < T * d; i++) x[i] = x[i]! + tmp[i]!;

    // ffn rmsnorm, then x += w2(silu(w1 xb) ⊙ w3 xb)
    rmsNorm(x, T, d, W.rmsFfn, l * d, eps, xb);
    matmul(xb, T, d, dff, W.w1, l * dff * d, hb);
    matmul(xb, T, d, dff, W.w3, l * dff * d, hb2);
    for (let i = 0; i < T * dff; i++) hb[i] = (hb[i]! / (1 + Math.exp(-hb[i]!))) * hb2[i]!;
    matmul(hb, T, dff, d, W.w2, l * d * dff, tmp);
    for (let i = 0; i < T * d; i++) x[i] = x[i]! + tmp[i]!;
  }

  // final rmsnorm and classifier
  rmsNorm(x, T, d, W.rmsFinal, 0, eps, xb);
  const logits = new Float64Array(T * V);
  matmul(xb, T, d, V, W.wcls, 0, logits);
  return logits;
}

/** out[t] = x[t] / sqrt(mean(x[t]²) + eps) ⊙ gain[off .. off+d) */
function rmsNorm(x: Float64Array, T: number, d: number, gain: Float32Array, off: number, eps: number, out: Float64Array): void {
  for (let t = 0; t < T; t++) {
    let ms = 0;
    for (let i = 0; i < d; i++) ms += x[t * d + i]! * x[t * d + i]!;
    const s = Math.sqrt(ms / d + eps);
    for (let i = 0; i < d; i++) out[t * d + i] = (x[t * d + i]! / s) * gain[off + i]!;
  }
}

/** out[t, j] = Σ_i W[off + j*nIn + i] x[t, i]   (W is [nOut, nIn] starting at off) */
function matmul(x: Float64Array, T: number, nIn: number, nOut: number, W: Float32Array, off: number, out: Float64Array): void {
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < nOut; j++) {
      let acc = 0;
      for (let i = 0; i < nIn; i++) acc += W[off + j * nIn + i]! * x[t * nIn + i]!;
      out[t * nOut + j] = acc;
    }
  }
}

// ----------------------------------------------------------------------------------------------
// tokenizer (decoding only)

export interface Llama2cTokenizer {
  maxTokenLength: number;
  scores: Float32Array;
  pieces: Uint8Array[]; // raw bytes of each token's string
}

/** Read tok512.bin-style files: int32 max_token_length, then per token f32 score, i32 len, bytes. */
export function readLlama2cTokenizer(path: string | URL, vocabSize: number): Llama2cTokenizer {
  const buf = readFileSync(path);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const maxTokenLength = view.getInt32(0, true);
  const scores = new Float32Array(vocabSize);
  const pieces: Uint8Array[] = [];
  let p = 4;
  for (let i = 0; i < vocabSize; i++) {
    scores[i] = view.getFloat32(p, true);
    const len = view.getInt32(p + 4, true);
    pieces.push(Uint8Array.from(buf.subarray(p + 8, p + 8 + len)));
    p += 8 + len;
  }
  return { maxTokenLength, scores, pieces };
}

/**
 * Decode generated ids to text: after BOS (id 1) a piece's leading space is dropped; pieces of the
 * form `<0xNN>` are the raw byte NN; the bytes are joined and read as UTF-8.
 * `prev` is the id before ids[0] (BOS when decoding a generation from BOS).
 */
export function decodeLlama2c(tok: Llama2cTokenizer, ids: number[], prev = 1): string {
  const bytes: number[] = [];
  for (const id of ids) {
    let piece = tok.pieces[id]!;
    const text = Buffer.from(piece).toString('latin1');
    const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(text);
    if (m) {
      bytes.push(parseInt(m[1]!, 16));
    } else {
      if (prev === 1 && piece[0] === 0x20) piece = piece.subarray(1);
      bytes.push(...piece);
    }
    prev = id;
  }
  return Buffer.from(bytes).toString('utf8');
}
