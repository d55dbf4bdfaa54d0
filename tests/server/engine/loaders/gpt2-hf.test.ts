/**
 * The GPT-2 Hugging Face loader on tiny checkpoints written here with writeSafetensors.
 * Matrix entries encode their own position (row·1000 + column + a per-tensor offset), so the
 * orientation and the c_attn split are checked on known values, not just on shapes.
 * Sizes: L = 2 layers, d = 8, H = 2 heads, d_mlp = 4d = 32, V = 11, n_ctx = 6.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './temp-dir.js';
import { ModelError, type Tensor } from '../../../../shared/engine/decoder.js';
import { describeModel, loadModel } from '../../../../server/engine/load.js';
import { writeSafetensors, type WriteDtype } from '../../../../server/engine/safetensors.js';

const L = 2, d = 8, H = 2, dMlp = 32, V = 11, nCtx = 6;

/** [rows, cols] with entry (r, c) = offset + r·1000 + c (exact in F32; vectors: offset + i). */
function known(shape: number[], offset: number): { shape: number[]; data: Float32Array } {
  const cols = shape.length === 2 ? shape[1]! : shape[0]!;
  const rows = shape.length === 2 ? shape[0]! : 1;
  const data = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) data[r * cols + c] = offset + (shape.length === 2 ? r * 1000 : 0) + c;
  return { shape, data };
}

function gpt2Tensors(prefix = 'transformer.', vocab = V): Record<string, { shape: number[]; data: Float32Array }> {
  const t: Record<string, { shape: number[]; data: Float32Array }> = {};
  t[`${prefix}wte.weight`] = known([vocab, d], 0.5);
  t[`${prefix}wpe.weight`] = known([nCtx, d], 0.25);
  for (let l = 0; l < L; l++) {
    const h = `${prefix}h.${l}.`;
    const o = 100_000 * (l + 1);
    t[`${h}ln_1.weight`] = known([d], o + 1);
    t[`${h}ln_1.bias`] = known([d], o + 2);
    t[`${h}attn.bias`] = { shape: [1, 1, nCtx, nCtx], data: new Float32Array(nCtx * nCtx) }; // causal-mask buffer: skipped
    t[`${h}attn.c_attn.weight`] = known([d, 3 * d], o + 3);
    t[`${h}attn.c_attn.bias`] = known([3 * d], o + 4);
    t[`${h}attn.c_proj.weight`] = known([d, d], o + 5);
    t[`${h}attn.c_proj.bias`] = known([d], o + 6);
    t[`${h}ln_2.weight`] = known([d], o + 7);
    t[`${h}ln_2.bias`] = known([d], o + 8);
    t[`${h}mlp.c_fc.weight`] = known([d, dMlp], o + 9);
    t[`${h}mlp.c_fc.bias`] = known([dMlp], o + 10);
    t[`${h}mlp.c_proj.weight`] = known([dMlp, d], o + 11);
    t[`${h}mlp.c_proj.bias`] = known([d], o + 12);
  }
  t[`${prefix}ln_f.weight`] = known([d], 13);
  t[`${prefix}ln_f.bias`] = known([d], 14);
  return t;
}

const gpt2Config = (extra: object = {}) => ({
  architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', n_embd: d, n_layer: L, n_head: H, n_positions: nCtx,
  n_inner: null, vocab_size: V, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, eos_token_id: V - 1, ...extra,
});

/** A GPT-2 directory with a tiny vocab.json + merges.txt (so no built-in tokenizer is needed). */
function writeGpt2Dir(options: { tensors?: Record<string, { shape: number[]; data: Float32Array }>; config?: object; dtype?: WriteDtype } = {}): string {
  const dir = tempDir('gpt2-');
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...gpt2Config(), ...options.config }));
  writeSafetensors(join(dir, 'model.safetensors'), options.tensors ?? gpt2Tensors(), options.dtype ?? 'F32');
  const vocab = Object.fromEntries(['h', 'i', 'Ġ', 'hi', 'Ġhi', 'a', 'b', 'c', 'd', 'e', '<|endoftext|>'].map((s, i) => [s, i]));
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab));
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\nh i\nĠ hi\n');
  return dir;
}

const at = (t: Tensor, r: number, c: number) => t.data[r * t.shape[1]! + c]!;

describe('GPT-2 HF loader', () => {
  it('produces the canonical spec and shapes', async () => {
    const { decoder } = await loadModel(writeGpt2Dir());
    expect(decoder.spec).toMatchObject({
      architecture: 'GPT2LMHeadModel', nLayers: L, dModel: d, nHeads: H, nKvHeads: H, dHead: 4, dMlp, vocabSize: V,
      contextLength: nCtx, norm: { kind: 'layernorm', eps: 1e-5 }, mlp: { kind: 'mlp', activation: 'gelu_new' },
      positional: { kind: 'learned' }, biases: { qkv: true, attnOut: true, mlp: true, unembed: false },
    });
    expect(decoder.spec.attnScale).toBeCloseTo(0.5, 12);
    const shapes = Object.fromEntries(Object.entries(decoder.weights).map(([k, t]) => [k, t.shape]));
    expect(shapes).toMatchObject({
      'embed.W_E': [V, d], 'pos_embed.W_pos': [nCtx, d], 'blocks.1.ln1.w': [d], 'blocks.1.ln1.b': [d],
      'blocks.1.attn.W_Q': [d, d], 'blocks.1.attn.W_K': [d, d], 'blocks.1.attn.W_V': [d, d], 'blocks.1.attn.W_O': [d, d],
      'blocks.1.attn.b_Q': [d], 'blocks.1.attn.b_K': [d], 'blocks.1.attn.b_V': [d], 'blocks.1.attn.b_O': [d],
      'blocks.1.mlp.W_in': [d, dMlp], 'blocks.1.mlp.b_in': [dMlp], 'blocks.1.mlp.W_out': [dMlp, d], 'blocks.1.mlp.b_out': [d],
      'ln_final.w': [d], 'ln_final.b': [d], 'unembed.W_U': [d, V],
    });
    expect(Object.keys(decoder.weights)).toHaveLength(2 + 16 * L + 3);
    for (const t of Object.values(decoder.weights)) expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
  });

  it('keeps Conv1D [in, out] as is and splits c_attn into q | k | v columns', async () => {
    const { decoder: { weights: w } } = await loadModel(writeGpt2Dir());
    const o = 200_000; // layer 1
    // c_attn[r, c] = o + 3 + 1000r + c: W_Q takes columns 0..d−1, W_K d..2d−1, W_V 2d..3d−1.
    expect(at(w['blocks.1.attn.W_Q']!, 2, 5)).toBe(o + 3 + 2000 + 5);
    expect(at(w['blocks.1.attn.W_K']!, 2, 5)).toBe(o + 3 + 2000 + d + 5);
    expect(at(w['blocks.1.attn.W_V']!, 7, 0)).toBe(o + 3 + 7000 + 2 * d);
    expect(w['blocks.1.attn.b_V']!.data[3]).toBe(o + 4 + 2 * d + 3);
    expect(at(w['blocks.1.attn.W_O']!, 1, 6)).toBe(o + 5 + 1000 + 6); // not transposed
    expect(at(w['blocks.1.mlp.W_in']!, 3, 20)).toBe(o + 9 + 3000 + 20);
    expect(at(w['blocks.1.mlp.W_out']!, 20, 3)).toBe(o + 11 + 20_000 + 3);
    expect(w['blocks.0.ln2.b']!.data[4]).toBe(100_000 + 8 + 4);
    // Tied unembedding: W_U[i, v] = W_E[v, i] = 0.5 + 1000v + i.
    expect(at(w['unembed.W_U']!, 3, 9)).toBe(0.5 + 9000 + 3);
  });

  it('accepts names without the transformer. prefix (the hub\'s original gpt2 file)', async () => {
    const { decoder } = await loadModel(writeGpt2Dir({ tensors: gpt2Tensors('') }));
    expect(at(decoder.weights['blocks.0.attn.W_K']!, 0, 0)).toBe(100_000 + 3 + d);
  });

  it('uses an untied lm_head [V, d] transposed when tie_word_embeddings is false', async () => {
    const tensors = { ...gpt2Tensors(), 'lm_head.weight': known([V, d], 0.75) };
    const { decoder } = await loadModel(writeGpt2Dir({ tensors, config: { tie_word_embeddings: false } }));
    expect(at(decoder.weights['unembed.W_U']!, 5, 2)).toBe(0.75 + 2000 + 5);
    expect(describeModel({ decoder, tokenizer: (await loadModel(writeGpt2Dir())).tokenizer }).tiedEmbeddings).toBe(false);
  });

  it('reads config options: n_inner, activation, scale_attn_weights, epsilon', async () => {
    const tensors = gpt2Tensors();
    for (let l = 0; l < L; l++) {
      tensors[`transformer.h.${l}.mlp.c_fc.weight`] = known([d, 12], 1);
      tensors[`transformer.h.${l}.mlp.c_fc.bias`] = known([12], 1);
      tensors[`transformer.h.${l}.mlp.c_proj.weight`] = known([12, d], 1);
    }
    const { decoder: { spec } } = await loadModel(writeGpt2Dir({
      tensors, config: { n_inner: 12, activation_function: 'gelu', scale_attn_weights: false, layer_norm_epsilon: 1e-6 },
    }));
    expect(spec).toMatchObject({ dMlp: 12, mlp: { activation: 'gelu' }, attnScale: 1, norm: { eps: 1e-6 } });
  });

  it('reads F16 and BF16 checkpoints as float32', async () => {
    for (const dtype of ['F16', 'BF16'] as const) {
      const { decoder } = await loadModel(writeGpt2Dir({ dtype }));
      // wte[1, 2] = 1002.5 = 1.1111010101b × 2^9: F16 (10 mantissa bits) keeps it exactly; BF16
      // keeps 7 bits, 1.1111010|101 rounds up to 1.1111011b × 2^9 = 1004.
      expect(decoder.weights['embed.W_E']!.data[1 * d + 2]).toBe(dtype === 'F16' ? 1002.5 : 1004);
    }
  });

  it('counts parameters as Hugging Face does (tied head counted once)', async () => {
    const m = await loadModel(writeGpt2Dir());
    const perLayer = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * dMlp + dMlp) + (dMlp * d + d);
    expect(describeModel(m)).toMatchObject({ tiedEmbeddings: true, parameters: V * d + nCtx * d + L * perLayer + 2 * d });
  });

  it('names the tensor, expected and actual shape when a shape is wrong', async () => {
    const tensors = gpt2Tensors();
    tensors['transformer.h.1.attn.c_attn.weight'] = known([3 * d, d], 0); // stored the wrong way round
    const dir = writeGpt2Dir({ tensors });
    await expect(loadModel(dir)).rejects.toThrow(ModelError);
    await expect(loadModel(dir)).rejects.toThrow(`tensor "transformer.h.1.attn.c_attn.weight" has shape [24, 8], expected [8, 24]`);
  });

  it('names a missing tensor', async () => {
    const tensors = gpt2Tensors();
    delete tensors['transformer.h.0.mlp.c_proj.bias'];
    await expect(loadModel(writeGpt2Dir({ tensors }))).rejects.toThrow(`missing tensor "transformer.h.0.mlp.c_proj.bias" (expected shape [8])`);
  });

  it('refuses tensors it does not understand', async () => {
    const tensors = { ...gpt2Tensors(), 'transformer.h.0.attn.q_norm.weight': known([d], 0) };
    await expect(loadModel(writeGpt2Dir({ tensors }))).rejects.toThrow(/unexpected tensors .*"transformer.h.0.attn.q_norm.weight"/);
  });

  it('refuses unsupported config options with a clear message', async () => {
    await expect(loadModel(writeGpt2Dir({ config: { scale_attn_by_inverse_layer_idx: true } }))).rejects.toThrow(/scale_attn_by_inverse_layer_idx is not supported/);
    await expect(loadModel(writeGpt2Dir({ config: { activation_function: 'quick_gelu' } }))).rejects.toThrow(/unsupported activation_function "quick_gelu"/);
  });

  it('uses vocab.json + merges.txt from the directory as the tokenizer', async () => {
    const { tokenizer } = await loadModel(writeGpt2Dir());
    expect(tokenizer.encode('hi hi')).toEqual([3, 4]); // "hi", "Ġhi"
    expect(tokenizer.decode([3, 4])).toBe('hi hi');
    expect(tokenizer.tokenString(4)).toBe(' hi');
    expect([tokenizer.bosId, tokenizer.eosId]).toEqual([null, 10]);
  });
});

describe('GPT-2 with the standard vocabulary and no tokenizer files', () => {
  it('falls back to the built-in GPT-2 BPE (r50k_base)', async () => {
    const dir = tempDir('gpt2-50257-');
    writeFileSync(join(dir, 'config.json'), JSON.stringify(gpt2Config({ vocab_size: 50257 })));
    writeSafetensors(join(dir, 'model.safetensors'), gpt2Tensors('transformer.', 50257));
    const { tokenizer, decoder } = await loadModel(dir);
    expect(decoder.weights['unembed.W_U']!.shape).toEqual([d, 50257]);
    // GPT-2: "Hello" 15496, " world" 995, "<|endoftext|>" 50256.
    expect(tokenizer.encode('Hello world<|endoftext|>')).toEqual([15496, 995, 50256]);
    expect(tokenizer.tokenString(995)).toBe(' world');
    expect(tokenizer.decode([15496, 995])).toBe('Hello world');
    expect([tokenizer.vocabSize, tokenizer.bosId, tokenizer.eosId]).toEqual([50257, null, 50256]);
  });
});
