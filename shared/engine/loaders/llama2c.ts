/**
 * llama2.c checkpoints (version 0 "legacy" export, as Karpathy's tinyllamas) → the canonical
 * `Decoder`. Format (see shared/fixtures/stories260K/README.md): seven little-endian int32
 * (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size
 * means an unshared classifier), then float32 arrays, matrices [out, in]:
 *   token_embedding [V, d]; rms_att [L, d]; wq [L, d, d]; wk [L, kv, d]; wv [L, kv, d];
 *   wo [L, d, d]; rms_ffn [L, d]; w1 [L, d_mlp, d]; w2 [L, d, d_mlp]; w3 [L, d_mlp, d];
 *   rms_final [d]; two legacy RoPE tables [n_ctx, dh/2] (skipped); wcls [V, d] if unshared.
 *
 * llama2.c rotates consecutive pairs (2i, 2i+1) of each head; DecoderSpec rotates (i, i + dh/2).
 * Permuting the output columns of W_Q and W_K within each head to the order
 * [0, 2, 4, …, 1, 3, 5, …] (as HF's convert_llama_weights_to_hf does) turns one into the other and
 * leaves every attention score unchanged (q·k is a sum over the same pairs).
 * Legend: V vocabulary, d width, L layers, H heads, Hkv KV heads, dh head width, kv = Hkv·dh.
 */
import type { ByteSource } from '../files.js';
import { ModelError, type Decoder, type DecoderSpec, type Tensor, type Weights } from '../decoder.js';

const HEADER_BYTES = 7 * 4;
/** Version ≥ 1 exports start with this magic ("ak42"), which the legacy reader must not misread. */
const LLAMA2C_MAGIC = 0x616b3432;

export interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  sharedClassifier: boolean;
}

/** Float count of every array in file order, for the size check and the reader. */
function layout(h: Llama2cHeader): Array<[string, number]> {
  const { dim: d, hiddenDim: dMlp, nLayers: L, vocabSize: V, seqLen } = h;
  const dh = d / h.nHeads;
  const kv = h.nKvHeads * dh;
  return [
    ['token_embedding', V * d], ['rms_att', L * d], ['wq', L * d * d], ['wk', L * kv * d], ['wv', L * kv * d],
    ['wo', L * d * d], ['rms_ffn', L * d], ['w1', L * dMlp * d], ['w2', L * d * dMlp], ['w3', L * dMlp * d],
    ['rms_final', d], ['freq_cis_real', (seqLen * dh) / 2], ['freq_cis_imag', (seqLen * dh) / 2],
    ['wcls', h.sharedClassifier ? 0 : V * d],
  ];
}

export function readLlama2cHeader(path: string, bytes: Uint8Array, fileSize: number): Llama2cHeader {
  if (fileSize < HEADER_BYTES) throw new ModelError(`${path}: not a llama2.c checkpoint (${fileSize} bytes, shorter than the 28-byte header)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  if (view.getUint32(0, true) === LLAMA2C_MAGIC) {
    throw new ModelError(`${path}: a llama2.c version ${view.getInt32(4, true)} export; only the version-0 (legacy) layout is supported (export with --version 0)`);
  }
  const field = (i: number) => view.getInt32(4 * i, true);
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, rawVocab, seqLen] = [0, 1, 2, 3, 4, 5, 6].map(field) as
    [number, number, number, number, number, number, number];
  const header: Llama2cHeader = {
    dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize: Math.abs(rawVocab), seqLen, sharedClassifier: rawVocab > 0,
  };
  const bad = (why: string) => new ModelError(`${path}: not a valid llama2.c checkpoint: ${why} (header ${JSON.stringify({ dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize: rawVocab, seqLen })})`);
  if ([dim, hiddenDim, nLayers, nHeads, nKvHeads, seqLen].some((n) => n <= 0) || rawVocab === 0) throw bad('sizes must be positive');
  if (dim % nHeads !== 0) throw bad('dim is not divisible by n_heads');
  if (nHeads % nKvHeads !== 0) throw bad('n_heads is not a multiple of n_kv_heads');
  if ((dim / nHeads) % 2 !== 0) throw bad('the head size must be even for rotary embeddings');
  return header;
}

export function llama2cSpec(h: Llama2cHeader): DecoderSpec {
  const dHead = h.dim / h.nHeads;
  return {
    architecture: 'llama2.c',
    nLayers: h.nLayers,
    dModel: h.dim,
    nHeads: h.nHeads,
    nKvHeads: h.nKvHeads,
    dHead,
    dMlp: h.hiddenDim,
    vocabSize: h.vocabSize,
    contextLength: h.seqLen,
    norm: { kind: 'rmsnorm', eps: 1e-5 },
    mlp: { kind: 'gated', activation: 'silu' },
    positional: { kind: 'rotary', theta: 10000 },
    biases: { qkv: false, attnOut: false, mlp: false, unembed: false },
    attnScale: 1 / Math.sqrt(dHead),
  };
}

/**
 * Reads a version-0 llama2.c `.bin` from `source` (a file on the server, bytes in the browser;
 * `path` names it in messages); the size must be exactly what the header implies.
 */
export function loadLlama2c(path: string, source: ByteSource): Decoder {
  try {
    const fileSize = source.size;
    const headerBytes = new Uint8Array(Math.min(HEADER_BYTES, fileSize));
    source.read(headerBytes, 0);
    const h = readLlama2cHeader(path, headerBytes, fileSize);
    const sections = layout(h);
    const expected = HEADER_BYTES + 4 * sections.reduce((sum, [, n]) => sum + n, 0);
    if (fileSize !== expected) {
      throw new ModelError(`${path}: file is ${fileSize} bytes but its llama2.c header (dim ${h.dim}, ${h.nLayers} layers, vocab ${h.vocabSize}, ${h.sharedClassifier ? 'shared' : 'unshared'} classifier) implies ${expected}; the file is ${fileSize < expected ? 'truncated' : 'corrupt or not a version-0 export'}`);
    }
    const raw: Record<string, Float32Array> = {};
    let offset = HEADER_BYTES;
    for (const [name, count] of sections) {
      const data = new Float32Array(count);
      const bytes = new Uint8Array(data.buffer);
      // In pieces of at most 1 GiB (what one read of a file takes).
      for (let done = 0; done < bytes.length; done += 1 << 30) source.read(bytes.subarray(done, Math.min(bytes.length, done + (1 << 30))), offset + done);
      raw[name] = data;
      offset += 4 * count;
    }
    return { spec: llama2cSpec(h), weights: canonicalWeights(h, raw), source: path };
  } finally {
    source.close();
  }
}

/** Layer `l`'s [rows, cols] matrix out of a stacked [L, rows, cols] array, transposed to [cols, rows]. */
function layerTransposed(stack: Float32Array, l: number, rows: number, cols: number, rowOrder?: number[]): Tensor {
  const base = l * rows * cols;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const from = base + (rowOrder ? rowOrder[r]! : r) * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = stack[from + c]!;
  }
  return { shape: [cols, rows], data: out };
}

/**
 * For `nHeads` heads of width dh: new output row k takes old row order[k]. Within a head, new
 * index a·dh/2 + i comes from old 2i + a, i.e. the order [0, 2, 4, …, 1, 3, 5, …].
 */
export function rotateHalfOrder(nHeads: number, dh: number): number[] {
  const order: number[] = [];
  for (let h = 0; h < nHeads; h++) {
    for (let a = 0; a < 2; a++) for (let i = 0; i < dh / 2; i++) order.push(h * dh + 2 * i + a);
  }
  return order;
}

function canonicalWeights(h: Llama2cHeader, raw: Record<string, Float32Array>): Weights {
  const { dim: d, hiddenDim: dMlp, nLayers: L, nHeads: H, nKvHeads: Hkv, vocabSize: V } = h;
  const dh = d / H;
  const kv = Hkv * dh;
  const qOrder = rotateHalfOrder(H, dh);
  const kOrder = rotateHalfOrder(Hkv, dh);
  const vector = (stack: Float32Array, l: number): Tensor => ({ shape: [d], data: stack.slice(l * d, (l + 1) * d) });

  const weights: Weights = {};
  weights['embed.W_E'] = { shape: [V, d], data: raw.token_embedding! }; // [V, d]
  for (let l = 0; l < L; l++) {
    const b = `blocks.${l}.`;
    weights[`${b}ln1.w`] = vector(raw.rms_att!, l);
    weights[`${b}attn.W_Q`] = layerTransposed(raw.wq!, l, d, d, qOrder); // [d, H*dh], rotate_half order
    weights[`${b}attn.W_K`] = layerTransposed(raw.wk!, l, kv, d, kOrder); // [d, Hkv*dh], rotate_half order
    weights[`${b}attn.W_V`] = layerTransposed(raw.wv!, l, kv, d); // [d, Hkv*dh]
    weights[`${b}attn.W_O`] = layerTransposed(raw.wo!, l, d, d); // [H*dh, d]
    weights[`${b}ln2.w`] = vector(raw.rms_ffn!, l);
    weights[`${b}mlp.W_gate`] = layerTransposed(raw.w1!, l, dMlp, d); // [d, d_mlp]
    weights[`${b}mlp.W_in`] = layerTransposed(raw.w3!, l, dMlp, d); // [d, d_mlp]
    weights[`${b}mlp.W_out`] = layerTransposed(raw.w2!, l, d, dMlp); // [d_mlp, d]
  }
  weights['ln_final.w'] = { shape: [d], data: raw.rms_final! };
  const classifier = h.sharedClassifier ? raw.token_embedding! : raw.wcls!; // [V, d]
  weights['unembed.W_U'] = layerTransposed(classifier, 0, V, d); // [d, V]
  return weights;
}
