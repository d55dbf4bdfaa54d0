/**
 * Llama-style checkpoints in Hugging Face layout (LlamaForCausalLM, and the identically laid-out
 * MistralForCausalLM and Qwen2ForCausalLM) → the canonical `Decoder`.
 *
 * nn.Linear weights are stored [out, in] and are transposed to [in, out]. HF's rotary pairing is
 * rotate_half (i with i + dh/2), the same as DecoderSpec's, so q/k need no permutation.
 * Sliding-window attention (Mistral, Qwen2 with use_sliding_window) equals full causal attention
 * inside the window, so the context length is capped at the window to stay exact.
 * Limits: rope_scaling (Llama 3.1+ "llama3", linear, dynamic, yarn…) and mlp_bias are refused.
 * Legend: V vocabulary, d width, H query heads, Hkv key/value heads, dh head width, d_mlp MLP width.
 */
import { ModelError, type Decoder, type DecoderSpec, type Weights } from '../decoder.js';
import type { TensorStore } from '../safetensors.js';
import { activationFromHf, checkNoUnknownTensors, configInt, configNumber, readChecked, transpose, type HfConfig } from './common.js';

export const LLAMA_ARCHITECTURES = ['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM'];

/** Rotary base: `rope_theta`, or transformers v5's `rope_parameters.rope_theta`; scaling refused. */
function ropeTheta(config: HfConfig, source: string): number {
  const params = (config.rope_parameters ?? null) as { rope_type?: string; rope_theta?: number } | null;
  const scaling = (config.rope_scaling ?? null) as { rope_type?: string; type?: string } | null;
  for (const s of [scaling, params]) {
    const kind = s?.rope_type ?? (s as { type?: string } | null)?.type ?? 'default';
    if (s && kind !== 'default') {
      throw new ModelError(`${source}/config.json: rope scaling "${kind}" is not supported (only plain rotary embeddings with rope_theta)`);
    }
  }
  return params?.rope_theta ?? configNumber(config, source, 'rope_theta', 10000);
}

export function llamaSpecFromConfig(config: HfConfig, source: string): DecoderSpec {
  const architecture = (config.architectures as string[] | undefined)?.[0] ?? 'LlamaForCausalLM';
  const isQwen2 = architecture === 'Qwen2ForCausalLM' || config.model_type === 'qwen2';
  const d = configInt(config, source, ['hidden_size']);
  const H = configInt(config, source, ['num_attention_heads']);
  const Hkv = configInt(config, source, ['num_key_value_heads'], H);
  if (H % Hkv !== 0) throw new ModelError(`${source}/config.json: num_attention_heads ${H} is not a multiple of num_key_value_heads ${Hkv}`);
  if (config.head_dim == null && d % H !== 0) throw new ModelError(`${source}/config.json: hidden_size ${d} is not divisible by num_attention_heads ${H}`);
  const dHead = configInt(config, source, ['head_dim'], d / H);
  if (dHead % 2 !== 0) throw new ModelError(`${source}/config.json: head_dim ${dHead} must be even for rotary embeddings`);
  if (config.mlp_bias === true) throw new ModelError(`${source}/config.json: mlp_bias is not supported (the gated MLP has no gate bias)`);

  let contextLength = configInt(config, source, ['max_position_embeddings'], 2048);
  const window = config.sliding_window;
  const windowed = isQwen2 ? config.use_sliding_window === true : true;
  if (windowed && typeof window === 'number' && window > 0) contextLength = Math.min(contextLength, window);

  // Qwen2 always has q/k/v biases and no o_proj bias; Llama's attention_bias covers all four.
  const attentionBias = config.attention_bias === true;
  return {
    architecture,
    nLayers: configInt(config, source, ['num_hidden_layers']),
    dModel: d,
    nHeads: H,
    nKvHeads: Hkv,
    dHead,
    dMlp: configInt(config, source, ['intermediate_size']),
    vocabSize: configInt(config, source, ['vocab_size'], 32000),
    contextLength,
    norm: { kind: 'rmsnorm', eps: configNumber(config, source, 'rms_norm_eps', 1e-6) },
    mlp: { kind: 'gated', activation: activationFromHf(config, source, 'hidden_act', 'silu') },
    positional: { kind: 'rotary', theta: ropeTheta(config, source) },
    biases: { qkv: isQwen2 || attentionBias, attnOut: !isQwen2 && attentionBias, mlp: false, unembed: false },
    attnScale: 1 / Math.sqrt(dHead),
  };
}

/** Reads every Llama tensor from `store`, checking each shape against `config`. */
export function loadLlamaHf(store: TensorStore, config: HfConfig, source: string): Decoder {
  const spec = llamaSpecFromConfig(config, source);
  const { nLayers: L, dModel: d, nHeads: H, nKvHeads: Hkv, dHead: dh, dMlp, vocabSize: V } = spec;
  const used = new Set<string>();
  const read = (name: string, shape: number[]) => {
    used.add(name);
    return readChecked(store, name, shape);
  };
  // nn.Linear [out, in] → canonical [in, out]
  const linear = (name: string, outDim: number, inDim: number) => transpose(read(name, [outDim, inDim]));

  const weights: Weights = {};
  weights['embed.W_E'] = read('model.embed_tokens.weight', [V, d]); // [V, d]
  for (let l = 0; l < L; l++) {
    const hf = `model.layers.${l}.`;
    const b = `blocks.${l}.`;
    weights[`${b}ln1.w`] = read(`${hf}input_layernorm.weight`, [d]);
    weights[`${b}attn.W_Q`] = linear(`${hf}self_attn.q_proj.weight`, H * dh, d); // [d, H*dh]
    weights[`${b}attn.W_K`] = linear(`${hf}self_attn.k_proj.weight`, Hkv * dh, d); // [d, Hkv*dh]
    weights[`${b}attn.W_V`] = linear(`${hf}self_attn.v_proj.weight`, Hkv * dh, d); // [d, Hkv*dh]
    weights[`${b}attn.W_O`] = linear(`${hf}self_attn.o_proj.weight`, d, H * dh); // [H*dh, d]
    if (spec.biases.qkv) {
      weights[`${b}attn.b_Q`] = read(`${hf}self_attn.q_proj.bias`, [H * dh]);
      weights[`${b}attn.b_K`] = read(`${hf}self_attn.k_proj.bias`, [Hkv * dh]);
      weights[`${b}attn.b_V`] = read(`${hf}self_attn.v_proj.bias`, [Hkv * dh]);
    }
    if (spec.biases.attnOut) weights[`${b}attn.b_O`] = read(`${hf}self_attn.o_proj.bias`, [d]);
    weights[`${b}ln2.w`] = read(`${hf}post_attention_layernorm.weight`, [d]);
    weights[`${b}mlp.W_gate`] = linear(`${hf}mlp.gate_proj.weight`, dMlp, d); // [d, d_mlp]
    weights[`${b}mlp.W_in`] = linear(`${hf}mlp.up_proj.weight`, dMlp, d); // [d, d_mlp]
    weights[`${b}mlp.W_out`] = linear(`${hf}mlp.down_proj.weight`, d, dMlp); // [d_mlp, d]
  }
  weights['ln_final.w'] = read('model.norm.weight', [d]);

  // Llama's default is untied; a missing lm_head with tie_word_embeddings unset is an error.
  const tied = config.tie_word_embeddings === true;
  if (tied) {
    weights['unembed.W_U'] = transpose(weights['embed.W_E']); // [d, V]
    if (store.has('lm_head.weight')) used.add('lm_head.weight'); // a saved copy; HF ties it on load
  } else {
    if (!store.has('lm_head.weight')) {
      throw new ModelError(`${store.source}: missing tensor "lm_head.weight" (expected shape [${V}, ${d}]); set "tie_word_embeddings": true in config.json if the head is tied to the embedding`);
    }
    weights['unembed.W_U'] = linear('lm_head.weight', V, d); // [d, V]
  }

  // rotary_emb.inv_freq is a buffer older exports saved; it is recomputed from rope_theta.
  checkNoUnknownTensors(store, used, (n) => n.endsWith('.rotary_emb.inv_freq'));
  return { spec, weights, source };
}
