/**
 * The Llama-style Hugging Face loader on tiny checkpoints written here with writeSafetensors.
 * nn.Linear weights are stored [out, in] with entry (o, i) = offset + o·1000 + i, so the
 * transpose to [in, out] is checked on known values. Grouped KV heads (H = 4, Hkv = 2), untied
 * head by default. Sizes: L = 2, d = 16, dh = 4, d_mlp = 12, V = 10, n_ctx = 32.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './temp-dir.js';
import { ModelError, type Tensor } from '../../../../shared/engine/decoder.js';
import { describeModel, loadModel } from '../../../../server/engine/load.js';
import { writeSafetensors } from '../../../../server/engine/safetensors.js';

const L = 2, d = 16, H = 4, Hkv = 2, dh = 4, dMlp = 12, V = 10;
type Tensors = Record<string, { shape: number[]; data: Float32Array }>;

/** [rows, cols] with entry (r, c) = offset + r·1000 + c; vectors offset + i. */
function known(shape: number[], offset: number): { shape: number[]; data: Float32Array } {
  const [rows, cols] = shape.length === 2 ? (shape as [number, number]) : [1, shape[0]!];
  const data = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) data[r * cols + c] = offset + (shape.length === 2 ? r * 1000 : 0) + c;
  return { shape, data };
}

function llamaTensors(options: { headDim?: number; bias?: 'llama' | 'qwen2'; untied?: boolean } = {}): Tensors {
  const hd = options.headDim ?? dh;
  const t: Tensors = {};
  t['model.embed_tokens.weight'] = known([V, d], 0.5);
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    const o = 100_000 * (l + 1);
    t[`${p}input_layernorm.weight`] = known([d], o + 1);
    t[`${p}self_attn.q_proj.weight`] = known([H * hd, d], o + 2); // [out, in]
    t[`${p}self_attn.k_proj.weight`] = known([Hkv * hd, d], o + 3);
    t[`${p}self_attn.v_proj.weight`] = known([Hkv * hd, d], o + 4);
    t[`${p}self_attn.o_proj.weight`] = known([d, H * hd], o + 5);
    if (options.bias) {
      t[`${p}self_attn.q_proj.bias`] = known([H * hd], o + 12);
      t[`${p}self_attn.k_proj.bias`] = known([Hkv * hd], o + 13);
      t[`${p}self_attn.v_proj.bias`] = known([Hkv * hd], o + 14);
      if (options.bias === 'llama') t[`${p}self_attn.o_proj.bias`] = known([d], o + 15);
    }
    t[`${p}self_attn.rotary_emb.inv_freq`] = known([hd / 2], 0); // old exports' buffer: skipped
    t[`${p}post_attention_layernorm.weight`] = known([d], o + 6);
    t[`${p}mlp.gate_proj.weight`] = known([dMlp, d], o + 7);
    t[`${p}mlp.up_proj.weight`] = known([dMlp, d], o + 8);
    t[`${p}mlp.down_proj.weight`] = known([d, dMlp], o + 9);
  }
  t['model.norm.weight'] = known([d], 10);
  if (options.untied !== false) t['lm_head.weight'] = known([V, d], 11);
  return t;
}

const llamaConfig = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: d, intermediate_size: dMlp, num_hidden_layers: L,
  num_attention_heads: H, num_key_value_heads: Hkv, rms_norm_eps: 1e-6, rope_theta: 500000, hidden_act: 'silu',
  max_position_embeddings: 32, vocab_size: V, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
};

/**
 * A Llama-like tokenizer.json (sentencepiece BPE as transformers converts it): "▁" marks a word
 * start, the normalizer prepends it and replaces spaces, TemplateProcessing prepends <s>.
 * ids: 0 <unk>, 1 <s>, 2 </s>, 3 ▁, 4 h, 5 i, 6 ▁h, 7 ▁hi, 8 <0x0A>, 9 !
 */
const tokenizerJson = {
  version: '1.0', truncation: null, padding: null,
  added_tokens: [
    { id: 0, content: '<unk>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    { id: 1, content: '<s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    { id: 2, content: '</s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
  ],
  normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
  pre_tokenizer: null,
  post_processor: {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
  },
  decoder: {
    type: 'Sequence',
    decoders: [
      { type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' },
      { type: 'Strip', content: ' ', start: 1, stop: 0 },
    ],
  },
  model: {
    type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
    fuse_unk: true, byte_fallback: true,
    vocab: { '<unk>': 0, '<s>': 1, '</s>': 2, '▁': 3, h: 4, i: 5, '▁h': 6, '▁hi': 7, '<0x0A>': 8, '!': 9 },
    merges: ['▁ h', '▁h i'],
  },
};

function writeLlamaDir(options: { tensors?: Tensors; config?: object; tokenizerConfig?: object | null } = {}): string {
  const dir = tempDir('llama-');
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...llamaConfig, ...options.config }));
  writeSafetensors(join(dir, 'model.safetensors'), options.tensors ?? llamaTensors());
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  if (options.tokenizerConfig !== null) {
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(options.tokenizerConfig ?? { bos_token: '<s>', eos_token: { content: '</s>', __type: 'AddedToken' }, add_bos_token: true }));
  }
  return dir;
}

const at = (t: Tensor, r: number, c: number) => t.data[r * t.shape[1]! + c]!;

describe('Llama HF loader', () => {
  it('produces the canonical spec and shapes (grouped KV heads, untied head)', async () => {
    const { decoder } = await loadModel(writeLlamaDir());
    expect(decoder.spec).toMatchObject({
      architecture: 'LlamaForCausalLM', nLayers: L, dModel: d, nHeads: H, nKvHeads: Hkv, dHead: dh, dMlp, vocabSize: V,
      contextLength: 32, norm: { kind: 'rmsnorm', eps: 1e-6 }, mlp: { kind: 'gated', activation: 'silu' },
      positional: { kind: 'rotary', theta: 500000 }, biases: { qkv: false, attnOut: false, mlp: false, unembed: false },
      attnScale: 0.5,
    });
    const shapes = Object.fromEntries(Object.entries(decoder.weights).map(([k, t]) => [k, t.shape]));
    expect(shapes).toEqual({
      'embed.W_E': [V, d], 'ln_final.w': [d], 'unembed.W_U': [d, V],
      ...Object.fromEntries([0, 1].flatMap((l) => [
        [`blocks.${l}.ln1.w`, [d]], [`blocks.${l}.ln2.w`, [d]],
        [`blocks.${l}.attn.W_Q`, [d, H * dh]], [`blocks.${l}.attn.W_K`, [d, Hkv * dh]],
        [`blocks.${l}.attn.W_V`, [d, Hkv * dh]], [`blocks.${l}.attn.W_O`, [H * dh, d]],
        [`blocks.${l}.mlp.W_gate`, [d, dMlp]], [`blocks.${l}.mlp.W_in`, [d, dMlp]], [`blocks.${l}.mlp.W_out`, [dMlp, d]],
      ])),
    });
  });

  it('transposes nn.Linear [out, in] to [in, out] and maps gate/up/down to W_gate/W_in/W_out', async () => {
    const { decoder: { weights: w } } = await loadModel(writeLlamaDir());
    const o = 200_000; // layer 1; canonical [in, out](i, j) = HF [out, in](j, i) = offset + 1000j + i
    expect(at(w['blocks.1.attn.W_Q']!, 3, 14)).toBe(o + 2 + 14_000 + 3);
    expect(at(w['blocks.1.attn.W_K']!, 15, 7)).toBe(o + 3 + 7000 + 15);
    expect(at(w['blocks.1.attn.W_V']!, 0, 6)).toBe(o + 4 + 6000);
    expect(at(w['blocks.1.attn.W_O']!, 9, 2)).toBe(o + 5 + 2000 + 9);
    expect(at(w['blocks.1.mlp.W_gate']!, 4, 11)).toBe(o + 7 + 11_000 + 4);
    expect(at(w['blocks.1.mlp.W_in']!, 4, 11)).toBe(o + 8 + 11_000 + 4);
    expect(at(w['blocks.1.mlp.W_out']!, 11, 4)).toBe(o + 9 + 4000 + 11);
    expect(w['blocks.1.ln1.w']!.data[5]).toBe(o + 1 + 5);
    expect(w['blocks.1.ln2.w']!.data[5]).toBe(o + 6 + 5);
    expect(at(w['embed.W_E']!, 7, 3)).toBe(0.5 + 7000 + 3); // embedding stays [V, d]
    expect(at(w['unembed.W_U']!, 3, 7)).toBe(11 + 7000 + 3); // lm_head [V, d] → [d, V]
  });

  it('ties the head to the embedding when tie_word_embeddings is true', async () => {
    const m = await loadModel(writeLlamaDir({ tensors: llamaTensors({ untied: false }), config: { tie_word_embeddings: true } }));
    expect(at(m.decoder.weights['unembed.W_U']!, 3, 7)).toBe(0.5 + 7000 + 3);
    expect(describeModel(m).tiedEmbeddings).toBe(true);
  });

  it('names lm_head.weight when the head is missing and not tied', async () => {
    const dir = writeLlamaDir({ tensors: llamaTensors({ untied: false }) });
    await expect(loadModel(dir)).rejects.toThrow(ModelError);
    await expect(loadModel(dir)).rejects.toThrow(/missing tensor "lm_head.weight" \(expected shape \[10, 16\]\)/);
  });

  it('honours an explicit head_dim (H·dh ≠ d)', async () => {
    const { decoder } = await loadModel(writeLlamaDir({ tensors: llamaTensors({ headDim: 6 }), config: { head_dim: 6 } }));
    expect(decoder.spec.dHead).toBe(6);
    expect(decoder.weights['blocks.0.attn.W_Q']!.shape).toEqual([d, 24]);
    expect(decoder.weights['blocks.0.attn.W_O']!.shape).toEqual([24, d]);
    expect(decoder.spec.attnScale).toBeCloseTo(1 / Math.sqrt(6), 12);
  });

  it('reads attention biases (Llama attention_bias: q, k, v, o; Qwen2: q, k, v)', async () => {
    const llama = await loadModel(writeLlamaDir({ tensors: llamaTensors({ bias: 'llama' }), config: { attention_bias: true } }));
    expect(llama.decoder.spec.biases).toMatchObject({ qkv: true, attnOut: true });
    expect(llama.decoder.weights['blocks.1.attn.b_K']!.data[7]).toBe(200_000 + 13 + 7);
    expect(llama.decoder.weights['blocks.1.attn.b_O']!.shape).toEqual([d]);
    const qwen = await loadModel(writeLlamaDir({
      tensors: llamaTensors({ bias: 'qwen2' }),
      config: { architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', sliding_window: 8, use_sliding_window: false },
    }));
    expect(qwen.decoder.spec).toMatchObject({ architecture: 'Qwen2ForCausalLM', biases: { qkv: true, attnOut: false }, contextLength: 32 });
    expect(qwen.decoder.weights['blocks.0.attn.b_Q']!.data[2]).toBe(100_000 + 12 + 2);
  });

  it('caps Mistral\'s context at its sliding window (exact inside the window)', async () => {
    const { decoder } = await loadModel(writeLlamaDir({ config: { architectures: ['MistralForCausalLM'], model_type: 'mistral', sliding_window: 16 } }));
    expect(decoder.spec).toMatchObject({ architecture: 'MistralForCausalLM', contextLength: 16 });
  });

  it('names a tensor of the wrong shape', async () => {
    const tensors = llamaTensors();
    tensors['model.layers.1.self_attn.k_proj.weight'] = known([H * dh, d], 0); // as if not grouped
    await expect(loadModel(writeLlamaDir({ tensors }))).rejects.toThrow(`tensor "model.layers.1.self_attn.k_proj.weight" has shape [16, 16], expected [8, 16]`);
  });

  it('refuses rope scaling, mlp_bias, and unexpected tensors clearly', async () => {
    await expect(loadModel(writeLlamaDir({ config: { rope_scaling: { rope_type: 'llama3', factor: 32 } } }))).rejects.toThrow(/rope scaling "llama3" is not supported/);
    await expect(loadModel(writeLlamaDir({ config: { mlp_bias: true } }))).rejects.toThrow(/mlp_bias is not supported/);
    const tensors = { ...llamaTensors(), 'model.layers.0.self_attn.q_norm.weight': known([dh], 0) };
    await expect(loadModel(writeLlamaDir({ tensors }))).rejects.toThrow(/unexpected tensors .*q_norm/);
  });

  it('uses tokenizer.json with BOS from tokenizer_config.json', async () => {
    const { tokenizer } = await loadModel(writeLlamaDir());
    // "hi hi" → normalizer "▁hi▁hi" → merges "▁ h"→"▁h", "▁h i"→"▁hi" twice → [7, 7], BOS first.
    expect(tokenizer.encode('hi hi')).toEqual([1, 7, 7]);
    expect(tokenizer.encode('hi\n')).toEqual([1, 7, 8]); // "\n" has no piece: byte fallback <0x0A>
    expect(tokenizer.decode([1, 7, 7, 8])).toBe('hi hi\n');
    expect(tokenizer.tokenString(7)).toBe(' hi');
    expect(tokenizer.tokenString(1)).toBe('<s>');
    expect([tokenizer.vocabSize, tokenizer.bosId, tokenizer.eosId]).toEqual([10, 1, 2]);
  });

  it('follows add_bos_token: false, and the post-processor when the config is silent', async () => {
    const noBos = await loadModel(writeLlamaDir({ tokenizerConfig: { add_bos_token: false, bos_token: '<s>', eos_token: '</s>' } }));
    expect(noBos.tokenizer.encode('hi')).toEqual([7]);
    expect(noBos.tokenizer.bosId).toBeNull();
    const silent = await loadModel(writeLlamaDir({ tokenizerConfig: null }));
    expect(silent.tokenizer.encode('hi')).toEqual([1, 7]); // TemplateProcessing prepends <s>
    expect(silent.tokenizer.eosId).toBe(2); // from config.json's eos_token_id
  });
});
