/**
 * Convert a llama2.c checkpoint (read by tests/reference/llama2c.ts) to Hugging Face Llama layout,
 * the way transformers' convert_llama_weights_to_hf.py does: q_proj and k_proj rows are permuted
 * per head so that llama2.c's consecutive RoPE pairs (2i, 2i+1) become HF's rotate_half pairs
 * (i, i + dh/2):  new row (h, j·dh/2 + i) = old row (h, 2i + j),  j ∈ {0, 1}.
 * Every other matrix is already [out, in]. With this, the HF reference on the converted tensors
 * must give the llama2.c reference's logits: a known-truth check of tests/reference/llama.ts, and a
 * real HF-layout checkpoint (writeHfCheckpoint) for loader tests.
 */
import type { Llama2cCheckpoint } from '../reference/llama2c.js';
import type { LlamaConfig } from './random-checkpoint.js';
import type { TensorMap } from './safetensors.js';

/** Rows of W [nHeads*dh, nIn] reordered from consecutive-pair to rotate_half order. */
export function permuteForRotateHalf(W: Float32Array, nHeads: number, dh: number, nIn: number): Float32Array {
  const out = new Float32Array(W.length);
  const half = dh / 2;
  for (let h = 0; h < nHeads; h++) {
    for (let j = 0; j < 2; j++) {
      for (let i = 0; i < half; i++) {
        const src = (h * dh + 2 * i + j) * nIn;
        const dst = (h * dh + j * half + i) * nIn;
        out.set(W.subarray(src, src + nIn), dst);
      }
    }
  }
  return out;
}

export function llama2cToHf(ckpt: Llama2cCheckpoint): { config: LlamaConfig; tensors: TensorMap } {
  const { dim: d, hiddenDim: dff, nLayers: L, nHeads: H, nKvHeads: Hkv, vocabSize: V, seqLen } = ckpt.config;
  const W = ckpt.weights;
  const dh = d / H;
  const kvDim = Hkv * dh;
  const config: LlamaConfig = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: d,
    intermediate_size: dff,
    num_hidden_layers: L,
    num_attention_heads: H,
    num_key_value_heads: Hkv,
    head_dim: dh,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    rope_scaling: null,
    max_position_embeddings: seqLen,
    vocab_size: V,
    tie_word_embeddings: ckpt.config.sharedClassifier,
    hidden_act: 'silu',
    attention_bias: false,
    mlp_bias: false,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'float32',
  };
  const slice = (a: Float32Array, l: number, n: number) => a.slice(l * n, (l + 1) * n);
  const t: TensorMap = {};
  t['model.embed_tokens.weight'] = { shape: [V, d], data: W.tokenEmbedding.slice() };
  for (let l = 0; l < L; l++) {
    const m = `model.layers.${l}.`;
    t[`${m}input_layernorm.weight`] = { shape: [d], data: slice(W.rmsAtt, l, d) };
    t[`${m}self_attn.q_proj.weight`] = { shape: [d, d], data: permuteForRotateHalf(slice(W.wq, l, d * d), H, dh, d) };
    t[`${m}self_attn.k_proj.weight`] = { shape: [kvDim, d], data: permuteForRotateHalf(slice(W.wk, l, kvDim * d), Hkv, dh, d) };
    t[`${m}self_attn.v_proj.weight`] = { shape: [kvDim, d], data: slice(W.wv, l, kvDim * d) };
    t[`${m}self_attn.o_proj.weight`] = { shape: [d, d], data: slice(W.wo, l, d * d) };
    t[`${m}post_attention_layernorm.weight`] = { shape: [d], data: slice(W.rmsFfn, l, d) };
    t[`${m}mlp.gate_proj.weight`] = { shape: [dff, d], data: slice(W.w1, l, dff * d) };
    t[`${m}mlp.up_proj.weight`] = { shape: [dff, d], data: slice(W.w3, l, dff * d) };
    t[`${m}mlp.down_proj.weight`] = { shape: [d, dff], data: slice(W.w2, l, d * dff) };
  }
  t['model.norm.weight'] = { shape: [d], data: W.rmsFinal.slice() };
  if (!ckpt.config.sharedClassifier) t['lm_head.weight'] = { shape: [V, d], data: W.wcls.slice() };
  return { config, tensors: t };
}
