/**
 * The family-neutral description of a decoder-only transformer, and its weights in one
 * canonical layout. Every loader (GPT-2 HF, HF Llama, llama2.c) produces a `Decoder`; the
 * compiler turns it into ONNX. Family differences live here as data, never as branches on
 * a family name in the compiler.
 *
 * Dimension legend: V vocabulary, d model width, H query heads, Hkv key/value heads,
 * dh head width, d_mlp MLP width, n_ctx context length.
 */

export type NormKind = 'layernorm' | 'rmsnorm';
/** `gelu` is exact (erf) GELU; `gelu_new` the tanh approximation GPT-2 uses. */
export type Activation = 'gelu' | 'gelu_new' | 'silu' | 'relu';

export interface DecoderSpec {
  /** Human-readable architecture name, e.g. "GPT2LMHeadModel" or "LlamaForCausalLM". */
  architecture: string;
  nLayers: number;
  dModel: number;
  nHeads: number;
  nKvHeads: number;
  dHead: number;
  dMlp: number;
  vocabSize: number;
  contextLength: number;
  norm: { kind: NormKind; eps: number };
  /** `mlp`: act(x W_in + b_in) W_out. `gated`: (act(x W_gate) * (x W_in)) W_out. */
  mlp: { kind: 'mlp' | 'gated'; activation: Activation };
  /** `learned`: pos_embed.W_pos added to the embedding. `rotary`: rotate q and k per head
   * (NeoX / HF "rotate_half" pairing: dimension i with i + dh/2). */
  positional: { kind: 'learned' } | { kind: 'rotary'; theta: number };
  /** Which optional bias tensors exist (absent ones are zero). */
  biases: { qkv: boolean; attnOut: boolean; mlp: boolean; unembed: boolean };
  /** Scale applied to q·k before softmax; normally 1/sqrt(dh). */
  attnScale: number;
}

/** Canonical tensor names and shapes (matrices are [in, out], so y = x W):
 *  embed.W_E [V, d]; pos_embed.W_pos [n_ctx, d] (learned positions only)
 *  blocks.{l}.ln1.w [d], blocks.{l}.ln1.b [d] (LayerNorm only)
 *  blocks.{l}.attn.W_Q [d, H*dh], W_K [d, Hkv*dh], W_V [d, Hkv*dh], W_O [H*dh, d]
 *  blocks.{l}.attn.b_Q [H*dh], b_K [Hkv*dh], b_V [Hkv*dh] (biases.qkv), b_O [d] (biases.attnOut)
 *  blocks.{l}.ln2.w, blocks.{l}.ln2.b
 *  blocks.{l}.mlp.W_in [d, d_mlp], W_gate [d, d_mlp] (gated only), W_out [d_mlp, d]
 *  blocks.{l}.mlp.b_in [d_mlp], b_out [d] (biases.mlp)
 *  ln_final.w [d], ln_final.b [d]
 *  unembed.W_U [d, V]; unembed.b_U [V] (biases.unembed)
 * Tied embeddings are simply W_U = W_Eᵀ (a copy or the same data, the compiler does not care). */
export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export type Weights = Record<string, Tensor>;

/** Turns text into token ids and back. */
export interface Tokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
  /** The text of one token as it would print (for the token rail and vocab lookups). */
  tokenString(id: number): string;
  vocabSize: number;
  /** Token prepended to every prompt (llama2.c's BOS), or null when nothing is prepended. */
  bosId: number | null;
  /** Generation stops at this token when set. */
  eosId: number | null;
}

export interface Decoder {
  spec: DecoderSpec;
  weights: Weights;
  /** Where it came from (a directory or a .bin file), for messages. */
  source: string;
}

export interface LoadedModel {
  decoder: Decoder;
  tokenizer: Tokenizer;
}

/** A failure the user caused or can fix (missing file, corrupt header, bad shape...).
 * The CLI and server print `message` alone, without a stack trace. */
export class ModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelError';
  }
}
