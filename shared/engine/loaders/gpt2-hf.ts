/**
 * GPT-2 in Hugging Face layout (config.json + safetensors) → the canonical `Decoder`.
 *
 * GPT-2's Conv1D weights are stored [in, out] already, which is the canonical orientation; the
 * fused c_attn [d, 3d] splits into W_Q, W_K, W_V [d, d] (columns q | k | v). The unembedding is
 * tied: W_U = W_Eᵀ, unless an untied `lm_head.weight` [V, d] is present and tie_word_embeddings
 * is false. Tensor names may carry the `transformer.` prefix (save_pretrained) or not (the hub's
 * original openai-community/gpt2 file). Limits: scale_attn_by_inverse_layer_idx is not supported.
 * Legend: V vocabulary, d width, n_ctx positions, d_mlp MLP width.
 */
import { ModelError, type Decoder, type DecoderSpec, type Weights } from '../decoder.js';
import type { TensorStore } from '../safetensors.js';
import {
  activationFromHf, checkNoUnknownTensors, configInt, configNumber, readChecked, sliceColumns, transpose, type HfConfig,
} from './common.js';

export const GPT2_ARCHITECTURES = ['GPT2LMHeadModel'];

export function gpt2SpecFromConfig(config: HfConfig, source: string): DecoderSpec {
  const d = configInt(config, source, ['n_embd', 'hidden_size']);
  const H = configInt(config, source, ['n_head', 'num_attention_heads']);
  if (d % H !== 0) throw new ModelError(`${source}/config.json: n_embd ${d} is not divisible by n_head ${H}`);
  if (config.scale_attn_by_inverse_layer_idx === true) {
    throw new ModelError(`${source}/config.json: scale_attn_by_inverse_layer_idx is not supported (one attention scale for all layers)`);
  }
  const dHead = d / H;
  return {
    architecture: GPT2_ARCHITECTURES[0]!,
    nLayers: configInt(config, source, ['n_layer', 'num_hidden_layers']),
    dModel: d,
    nHeads: H,
    nKvHeads: H,
    dHead,
    dMlp: configInt(config, source, ['n_inner'], 4 * d), // null → 4d
    vocabSize: configInt(config, source, ['vocab_size'], 50257),
    contextLength: configInt(config, source, ['n_positions', 'n_ctx'], 1024),
    norm: { kind: 'layernorm', eps: configNumber(config, source, 'layer_norm_epsilon', 1e-5) },
    mlp: { kind: 'mlp', activation: activationFromHf(config, source, 'activation_function', 'gelu_new') },
    positional: { kind: 'learned' },
    biases: { qkv: true, attnOut: true, mlp: true, unembed: false },
    attnScale: config.scale_attn_weights === false ? 1 : 1 / Math.sqrt(dHead),
  };
}

/** Reads every GPT-2 tensor from `store`, checking each shape against `config`. */
export function loadGpt2Hf(store: TensorStore, config: HfConfig, source: string): Decoder {
  const spec = gpt2SpecFromConfig(config, source);
  const { nLayers: L, dModel: d, dMlp, vocabSize: V, contextLength: nCtx } = spec;
  const prefix = store.has('transformer.wte.weight') ? 'transformer.' : '';
  const used = new Set<string>();
  const read = (name: string, shape: number[]) => {
    used.add(name);
    return readChecked(store, name, shape);
  };

  const weights: Weights = {};
  weights['embed.W_E'] = read(`${prefix}wte.weight`, [V, d]); // [V, d]
  weights['pos_embed.W_pos'] = read(`${prefix}wpe.weight`, [nCtx, d]); // [n_ctx, d]
  for (let l = 0; l < L; l++) {
    const hf = `${prefix}h.${l}.`;
    const b = `blocks.${l}.`;
    weights[`${b}ln1.w`] = read(`${hf}ln_1.weight`, [d]);
    weights[`${b}ln1.b`] = read(`${hf}ln_1.bias`, [d]);
    const qkv = read(`${hf}attn.c_attn.weight`, [d, 3 * d]); // [d, 3d], columns q | k | v
    const qkvBias = read(`${hf}attn.c_attn.bias`, [3 * d]);
    weights[`${b}attn.W_Q`] = sliceColumns(qkv, 0, d);
    weights[`${b}attn.W_K`] = sliceColumns(qkv, d, 2 * d);
    weights[`${b}attn.W_V`] = sliceColumns(qkv, 2 * d, 3 * d);
    weights[`${b}attn.b_Q`] = sliceColumns(qkvBias, 0, d);
    weights[`${b}attn.b_K`] = sliceColumns(qkvBias, d, 2 * d);
    weights[`${b}attn.b_V`] = sliceColumns(qkvBias, 2 * d, 3 * d);
    weights[`${b}attn.W_O`] = read(`${hf}attn.c_proj.weight`, [d, d]);
    weights[`${b}attn.b_O`] = read(`${hf}attn.c_proj.bias`, [d]);
    weights[`${b}ln2.w`] = read(`${hf}ln_2.weight`, [d]);
    weights[`${b}ln2.b`] = read(`${hf}ln_2.bias`, [d]);
    weights[`${b}mlp.W_in`] = read(`${hf}mlp.c_fc.weight`, [d, dMlp]);
    weights[`${b}mlp.b_in`] = read(`${hf}mlp.c_fc.bias`, [dMlp]);
    weights[`${b}mlp.W_out`] = read(`${hf}mlp.c_proj.weight`, [dMlp, d]);
    weights[`${b}mlp.b_out`] = read(`${hf}mlp.c_proj.bias`, [d]);
  }
  weights['ln_final.w'] = read(`${prefix}ln_f.weight`, [d]);
  weights['ln_final.b'] = read(`${prefix}ln_f.bias`, [d]);

  // Unembedding: tied unless the config unties it and a head is stored.
  const untied = config.tie_word_embeddings === false;
  if (untied) weights['unembed.W_U'] = transpose(read('lm_head.weight', [V, d])); // [V, d] → [d, V]
  else weights['unembed.W_U'] = transpose(weights['embed.W_E']);
  if (!untied && store.has('lm_head.weight')) {
    // A saved copy of the tied matrix: Hugging Face ties it to wte on load, so do we (shape checked).
    const shape = store.shape('lm_head.weight');
    if (shape[0] !== V || shape[1] !== d || shape.length !== 2) {
      throw new ModelError(`${store.source}: tensor "lm_head.weight" has shape [${shape.join(', ')}], expected [${V}, ${d}]`);
    }
    used.add('lm_head.weight');
  }

  // attn.bias / attn.masked_bias are causal-mask buffers some exports include, not weights.
  checkNoUnknownTensors(store, used, (n) => /\.attn\.(bias|masked_bias)$/.test(n));
  return { spec, weights, source };
}
