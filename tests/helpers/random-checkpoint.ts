/**
 * Small random checkpoints in Hugging Face layout, for checking the loaders + compiler against
 * the plain-loop references in tests/reference (shares no code with server/).
 *
 *   writeRandomGpt2(dir, opts)   config.json (GPT2LMHeadModel) + model.safetensors, tied head
 *   writeRandomLlama(dir, opts)  config.json (LlamaForCausalLM) + model.safetensors,
 *                                grouped KV heads, untied lm_head by default
 *
 * Tensor names and orientations are those save_pretrained writes:
 *   GPT-2 Conv1D weights are [in, out]; Llama nn.Linear weights are [out, in].
 * Weights are seeded Gaussians scaled by 1/sqrt(fan_in) so activations stay O(1) and attention
 * softmaxes are neither uniform nor one-hot; biases are uniform in ±0.1, norm gains in 1 ± 0.2.
 * The returned tensors hold exactly the values stored (already rounded when dtype is F16/BF16).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Dtype, type HfTensor, type TensorMap, roundTo, writeSafetensorsDir } from './safetensors.js';

export type { Dtype, HfTensor, TensorMap } from './safetensors.js';

// ----------------------------------------------------------------------------------------------
// seeded random numbers: mulberry32 + Box-Muller

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  private readonly u: () => number;
  constructor(seed: number) {
    this.u = mulberry32(seed);
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.u();
  }
  normal(): number {
    const u1 = Math.max(this.u(), 1e-12);
    const u2 = this.u();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  /** N(0, std²) tensor of the given shape */
  gaussian(shape: number[], std: number): HfTensor {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = std * this.normal();
    return { shape, data };
  }
  /** U(lo, hi) tensor of the given shape */
  uniformTensor(shape: number[], lo: number, hi: number): HfTensor {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = this.uniform(lo, hi);
    return { shape, data };
  }
  bias(n: number): HfTensor {
    return this.uniformTensor([n], -0.1, 0.1);
  }
  gain(n: number): HfTensor {
    return this.uniformTensor([n], 0.8, 1.2);
  }
}

/** Round every tensor to what `dtype` stores, in place of the originals. */
function finish(tensors: TensorMap, dtype: Dtype): TensorMap {
  const out: TensorMap = {};
  for (const [name, t] of Object.entries(tensors)) out[name] = { shape: t.shape, data: roundTo(t.data, dtype) };
  return out;
}

/** Write config.json + safetensors weights to `dir` (created if needed). */
export function writeHfCheckpoint(
  dir: string,
  config: object,
  tensors: TensorMap,
  opts: { dtype?: Dtype; shards?: number } = {},
): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  writeSafetensorsDir(dir, tensors, opts.dtype ?? 'F32', opts.shards ?? 1);
}

// ----------------------------------------------------------------------------------------------
// GPT-2

export interface Gpt2Config {
  architectures: string[];
  model_type: 'gpt2';
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_positions: number;
  n_ctx: number;
  n_inner: number | null; // null -> 4 * n_embd
  vocab_size: number;
  activation_function: string;
  layer_norm_epsilon: number;
  scale_attn_weights?: boolean;
  scale_attn_by_inverse_layer_idx?: boolean;
  bos_token_id?: number;
  eos_token_id?: number;
  tie_word_embeddings?: boolean;
  torch_dtype?: string;
}

export interface Gpt2Options {
  nLayer?: number; // default 2
  nEmbd?: number; // default 32
  nHead?: number; // default 4
  nPositions?: number; // default 64
  vocabSize?: number; // default 101
  nInner?: number | null; // default null (= 4 * nEmbd)
  seed?: number; // default 1
  dtype?: Dtype; // default F32
  shards?: number; // default 1 (model.safetensors)
  /** 'transformer.' as save_pretrained writes (default); '' as the hub's openai-community/gpt2 file */
  namePrefix?: string;
}

export interface Checkpoint<C> {
  dir: string;
  config: C;
  tensors: TensorMap;
}

const TORCH_DTYPE: Record<Dtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

export function randomGpt2(opts: Gpt2Options = {}): { config: Gpt2Config; tensors: TensorMap } {
  const L = opts.nLayer ?? 2;
  const d = opts.nEmbd ?? 32;
  const H = opts.nHead ?? 4;
  const nCtx = opts.nPositions ?? 64;
  const V = opts.vocabSize ?? 101;
  const dff = opts.nInner ?? 4 * d;
  const dtype = opts.dtype ?? 'F32';
  const p = opts.namePrefix ?? 'transformer.';
  if (d % H !== 0) throw new Error('nEmbd must be divisible by nHead');
  const config: Gpt2Config = {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    n_embd: d,
    n_layer: L,
    n_head: H,
    n_positions: nCtx,
    n_ctx: nCtx,
    n_inner: opts.nInner ?? null,
    vocab_size: V,
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
    scale_attn_weights: true,
    scale_attn_by_inverse_layer_idx: false,
    bos_token_id: V - 1,
    eos_token_id: V - 1,
    tie_word_embeddings: true,
    torch_dtype: TORCH_DTYPE[dtype],
  };

  const rng = new Rng(opts.seed ?? 1);
  const t: TensorMap = {};
  t[`${p}wte.weight`] = rng.gaussian([V, d], 0.5); // [V, d]   tied unembedding: logits ~ O(2)
  t[`${p}wpe.weight`] = rng.gaussian([nCtx, d], 0.3); // [n_ctx, d]
  for (let l = 0; l < L; l++) {
    const h = `${p}h.${l}.`;
    t[`${h}ln_1.weight`] = rng.gain(d);
    t[`${h}ln_1.bias`] = rng.bias(d);
    t[`${h}attn.c_attn.weight`] = rng.gaussian([d, 3 * d], 1.2 / Math.sqrt(d)); // [in d, out 3d]
    t[`${h}attn.c_attn.bias`] = rng.bias(3 * d);
    t[`${h}attn.c_proj.weight`] = rng.gaussian([d, d], 1 / Math.sqrt(d)); // [in d, out d]
    t[`${h}attn.c_proj.bias`] = rng.bias(d);
    t[`${h}ln_2.weight`] = rng.gain(d);
    t[`${h}ln_2.bias`] = rng.bias(d);
    t[`${h}mlp.c_fc.weight`] = rng.gaussian([d, dff], 1 / Math.sqrt(d)); // [in d, out dff]
    t[`${h}mlp.c_fc.bias`] = rng.bias(dff);
    t[`${h}mlp.c_proj.weight`] = rng.gaussian([dff, d], 1 / Math.sqrt(dff)); // [in dff, out d]
    t[`${h}mlp.c_proj.bias`] = rng.bias(d);
  }
  t[`${p}ln_f.weight`] = rng.gain(d);
  t[`${p}ln_f.bias`] = rng.bias(d);
  return { config, tensors: finish(t, dtype) };
}

/** Write a random GPT-2 checkpoint in HF layout to `dir`; returns its config and tensors. */
export function writeRandomGpt2(dir: string, opts: Gpt2Options = {}): Checkpoint<Gpt2Config> {
  const { config, tensors } = randomGpt2(opts);
  writeHfCheckpoint(dir, config, tensors, { dtype: opts.dtype, shards: opts.shards });
  return { dir, config, tensors };
}

// ----------------------------------------------------------------------------------------------
// Llama

export interface LlamaConfig {
  architectures: string[];
  model_type: 'llama';
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim?: number;
  rms_norm_eps: number;
  rope_theta: number;
  rope_scaling?: null;
  max_position_embeddings: number;
  vocab_size: number;
  tie_word_embeddings: boolean;
  hidden_act: string;
  attention_bias?: boolean;
  mlp_bias?: boolean;
  bos_token_id?: number;
  eos_token_id?: number;
  torch_dtype?: string;
}

export interface LlamaOptions {
  hiddenSize?: number; // default 32
  intermediateSize?: number; // default 56 (deliberately not a multiple of hiddenSize)
  numLayers?: number; // default 2
  numHeads?: number; // default 4
  numKvHeads?: number; // default 2 (grouped: 2 query heads per KV head)
  vocabSize?: number; // default 103
  maxPositionEmbeddings?: number; // default 64
  ropeTheta?: number; // default 500000 (not HF's default 10000)
  rmsNormEps?: number; // default 1e-6
  tieWordEmbeddings?: boolean; // default false (lm_head.weight written)
  seed?: number; // default 2
  dtype?: Dtype; // default F32
  shards?: number; // default 1
}

export function randomLlama(opts: LlamaOptions = {}): { config: LlamaConfig; tensors: TensorMap } {
  const d = opts.hiddenSize ?? 32;
  const dff = opts.intermediateSize ?? 56;
  const L = opts.numLayers ?? 2;
  const H = opts.numHeads ?? 4;
  const Hkv = opts.numKvHeads ?? 2;
  const V = opts.vocabSize ?? 103;
  const tied = opts.tieWordEmbeddings ?? false;
  const dtype = opts.dtype ?? 'F32';
  if (d % H !== 0 || H % Hkv !== 0) throw new Error('hiddenSize % numHeads and numHeads % numKvHeads must be 0');
  const dh = d / H;
  if (dh % 2 !== 0) throw new Error('head_dim must be even for rotary embeddings');
  const config: LlamaConfig = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: d,
    intermediate_size: dff,
    num_hidden_layers: L,
    num_attention_heads: H,
    num_key_value_heads: Hkv,
    head_dim: dh,
    rms_norm_eps: opts.rmsNormEps ?? 1e-6,
    rope_theta: opts.ropeTheta ?? 500000,
    rope_scaling: null,
    max_position_embeddings: opts.maxPositionEmbeddings ?? 64,
    vocab_size: V,
    tie_word_embeddings: tied,
    hidden_act: 'silu',
    attention_bias: false,
    mlp_bias: false,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: TORCH_DTYPE[dtype],
  };

  const rng = new Rng(opts.seed ?? 2);
  const t: TensorMap = {};
  t['model.embed_tokens.weight'] = rng.gaussian([V, d], tied ? 0.5 : 1); // [V, d]
  for (let l = 0; l < L; l++) {
    const m = `model.layers.${l}.`;
    t[`${m}input_layernorm.weight`] = rng.gain(d);
    t[`${m}self_attn.q_proj.weight`] = rng.gaussian([H * dh, d], 1.2 / Math.sqrt(d)); // [out H*dh, in d]
    t[`${m}self_attn.k_proj.weight`] = rng.gaussian([Hkv * dh, d], 1.2 / Math.sqrt(d)); // [Hkv*dh, d]
    t[`${m}self_attn.v_proj.weight`] = rng.gaussian([Hkv * dh, d], 1 / Math.sqrt(d)); // [Hkv*dh, d]
    t[`${m}self_attn.o_proj.weight`] = rng.gaussian([d, H * dh], 1 / Math.sqrt(H * dh)); // [d, H*dh]
    t[`${m}post_attention_layernorm.weight`] = rng.gain(d);
    t[`${m}mlp.gate_proj.weight`] = rng.gaussian([dff, d], 1.5 / Math.sqrt(d)); // [dff, d]
    t[`${m}mlp.up_proj.weight`] = rng.gaussian([dff, d], 1.5 / Math.sqrt(d)); // [dff, d]
    t[`${m}mlp.down_proj.weight`] = rng.gaussian([d, dff], 1.5 / Math.sqrt(dff)); // [d, dff]
  }
  t['model.norm.weight'] = rng.gain(d);
  if (!tied) t['lm_head.weight'] = rng.gaussian([V, d], 0.4); // [V, d]   logits ~ O(2)
  return { config, tensors: finish(t, dtype) };
}

/** Write a random Llama-style checkpoint in HF layout to `dir`; returns its config and tensors. */
export function writeRandomLlama(dir: string, opts: LlamaOptions = {}): Checkpoint<LlamaConfig> {
  const { config, tensors } = randomLlama(opts);
  writeHfCheckpoint(dir, config, tensors, { dtype: opts.dtype, shards: opts.shards });
  return { dir, config, tensors };
}

/** Seeded random token ids in [0, vocabSize). */
export function randomTokens(n: number, vocabSize: number, seed = 7): number[] {
  const u = mulberry32(seed);
  return Array.from({ length: n }, () => Math.floor(u() * vocabSize));
}
