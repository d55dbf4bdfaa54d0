/**
 * Self-tests of the plain-loop references and the checkpoint helpers, so that engine tests which
 * compare against them stand on checked ground:
 *  - llama2c.ts reproduces stories260K's known greedy output (known truth);
 *  - llama.ts (HF layout, rotate_half) on stories260K converted to HF layout gives the same logits
 *    as llama2c.ts (consecutive pairs), through a safetensors write + read;
 *  - gpt2.ts and llama.ts on random checkpoints: hook shapes as INTERP.md lists, patterns causal
 *    and summing to 1, residual sums, norm scales, causality of logits, sane activation sizes;
 *  - the safetensors writer/reader round-trips F32, F16, BF16 and sharded checkpoints.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { needSharedFixtures, stories260K } from '../helpers/shared-fixtures.js';
import { argmaxRow, maxAbsDiff } from '../helpers/compare.js';
import { llama2cToHf } from '../helpers/llama2c-to-hf.js';
import {
  randomTokens, writeHfCheckpoint, writeRandomGpt2, writeRandomLlama,
} from '../helpers/random-checkpoint.js';
import {
  bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, readHfCheckpoint,
} from '../helpers/safetensors.js';
import { type Gpt2RefConfig, gpt2Reference } from './gpt2.js';
import { type LlamaRefConfig, llamaReference } from './llama.js';
import { decodeLlama2c, llama2cLogits, readLlama2c, readLlama2cTokenizer } from './llama2c.js';
import type { ReferenceResult } from './types.js';

const fixtureDir = stories260K;
const haveFixture = needSharedFixtures('the llama2.c reference checks on stories260K', join(fixtureDir, 'stories260K.bin'));

const tmp = mkdtempSync(join(tmpdir(), 'cxr-ref-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// ----------------------------------------------------------------------------------------------
// known truth: stories260K

describe.skipIf(!haveFixture)('llama2.c reference on stories260K', () => {
  const ckpt = haveFixture ? readLlama2c(join(fixtureDir, 'stories260K.bin')) : null!;
  const greedy: number[] = [1]; // BOS, then greedy tokens

  it('greedy decoding from BOS is a prefix of expected-greedy.txt', () => {
    expect(ckpt.config).toMatchObject({ dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512 });
    const tok = readLlama2cTokenizer(join(fixtureDir, 'tok512.bin'), ckpt.config.vocabSize);
    const V = ckpt.config.vocabSize;
    for (let step = 0; step < 40; step++) {
      const logits = llama2cLogits(ckpt, greedy);
      const next = argmaxRow(logits, greedy.length - 1, V);
      if (next === 1) break; // BOS ends a story
      greedy.push(next);
    }
    const text = decodeLlama2c(tok, greedy.slice(1));
    const expected = readFileSync(join(fixtureDir, 'expected-greedy.txt'), 'utf8');
    expect(text.length).toBeGreaterThan(100);
    expect(text.startsWith('Once upon a time')).toBe(true);
    expect(expected.startsWith(text)).toBe(true);
  });

  it('HF-layout Llama reference on the converted checkpoint matches it (safetensors round trip)', () => {
    const ids = greedy.length > 10 ? greedy.slice(0, 24) : [1, 400, 261, 300, 45, 290, 500, 3, 77];
    const { config, tensors } = llama2cToHf(ckpt);
    const dir = join(tmp, 'stories260K-hf');
    writeHfCheckpoint(dir, config, tensors);
    const back = readHfCheckpoint(dir);
    const hf = llamaReference(back.config as unknown as LlamaRefConfig, back.tensors, ids);
    const native = llama2cLogits(ckpt, ids);
    expect(maxAbsDiff(hf.logits, native)).toBeLessThan(1e-9);
  });
});

// ----------------------------------------------------------------------------------------------
// invariants on random checkpoints

/** Checks shared by both families. */
function checkInvariants(r: ReferenceResult, o: { T: number; d: number; L: number; H: number; Hkv: number; dh: number; dff: number; V: number }) {
  const { T, d, L, H, Hkv, dh, dff, V } = o;
  const get = (name: string) => {
    const hook = r.hooks[name];
    if (!hook) throw new Error(`missing hook ${name}`);
    expect(hook.data.length).toBe(hook.shape.reduce((a, b) => a * b, 1));
    return hook;
  };
  expect(r.logits.length).toBe(T * V);
  expect(get('hook_embed').shape).toEqual([T, d]);
  expect(get('ln_final.hook_scale').shape).toEqual([T, 1]);
  for (let l = 0; l < L; l++) {
    const b = `blocks.${l}.`;
    for (const n of ['hook_resid_pre', 'hook_attn_out', 'hook_resid_mid', 'hook_mlp_out', 'hook_resid_post']) {
      expect(get(b + n).shape).toEqual([T, d]);
    }
    expect(get(`${b}ln1.hook_scale`).shape).toEqual([T, 1]);
    expect(get(`${b}ln2.hook_scale`).shape).toEqual([T, 1]);
    expect(get(`${b}attn.hook_q`).shape).toEqual([T, H, dh]);
    expect(get(`${b}attn.hook_k`).shape).toEqual([T, Hkv, dh]);
    expect(get(`${b}attn.hook_v`).shape).toEqual([T, Hkv, dh]);
    expect(get(`${b}attn.hook_z`).shape).toEqual([T, H, dh]);
    expect(get(`${b}attn.hook_pattern`).shape).toEqual([H, T, T]);
    expect(get(`${b}mlp.hook_pre`).shape).toEqual([T, dff]);
    expect(get(`${b}mlp.hook_post`).shape).toEqual([T, dff]);

    // residual sums
    const pre = get(`${b}hook_resid_pre`).data;
    const attnOut = get(`${b}hook_attn_out`).data;
    const mid = get(`${b}hook_resid_mid`).data;
    const mlpOut = get(`${b}hook_mlp_out`).data;
    const post = get(`${b}hook_resid_post`).data;
    expect(maxAbsDiff(mid, pre.map((v, i) => v + attnOut[i]!))).toBeLessThan(1e-12);
    expect(maxAbsDiff(post, mid.map((v, i) => v + mlpOut[i]!))).toBeLessThan(1e-12);
    if (l + 1 < L) expect(maxAbsDiff(get(`blocks.${l + 1}.hook_resid_pre`).data, post)).toBe(0);

    // patterns: causal, rows sum to 1, not degenerate (neither uniform nor one-hot everywhere)
    const pattern = get(`${b}attn.hook_pattern`).data;
    let maxOffUniform = 0;
    let minRowMax = 1;
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        let sum = 0;
        let rowMax = 0;
        for (let s = 0; s < T; s++) {
          const p = pattern[(h * T + t) * T + s]!;
          if (s > t) expect(p).toBe(0);
          else expect(p).toBeGreaterThan(0);
          sum += p;
          rowMax = Math.max(rowMax, p);
          if (s <= t) maxOffUniform = Math.max(maxOffUniform, Math.abs(p - 1 / (t + 1)));
        }
        expect(Math.abs(sum - 1)).toBeLessThan(1e-12);
        if (t >= 3) minRowMax = Math.min(minRowMax, rowMax);
      }
    }
    expect(maxOffUniform).toBeGreaterThan(0.1);
    expect(minRowMax).toBeLessThan(0.99);
  }
  // activations O(1): residual and logits neither vanishing nor exploding
  const rms = (a: Float64Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
  const resid = rms(get(`blocks.${L - 1}.hook_resid_post`).data);
  expect(resid).toBeGreaterThan(0.2);
  expect(resid).toBeLessThan(10);
  expect(rms(r.logits)).toBeGreaterThan(0.3);
  expect(rms(r.logits)).toBeLessThan(20);
  return get;
}

/** Logits at positions < k do not depend on tokens at positions ≥ k. */
function checkCausal(run: (ids: number[]) => ReferenceResult, ids: number[], V: number) {
  const k = Math.floor(ids.length / 2);
  const changed = ids.map((id, i) => (i >= k ? (id + 1) % V : id));
  const a = run(ids).logits;
  const b = run(changed).logits;
  expect(maxAbsDiff(a.subarray(0, k * V), b.subarray(0, k * V))).toBe(0);
  expect(maxAbsDiff(a.subarray(k * V), b.subarray(k * V))).toBeGreaterThan(1e-3);
}

describe('GPT-2 reference', () => {
  const o = { T: 12, d: 32, L: 2, H: 4, Hkv: 4, dh: 8, dff: 128, V: 101 };
  const ck = writeRandomGpt2(join(tmp, 'gpt2'), { nLayer: 2, nEmbd: 32, nHead: 4, nPositions: 64, vocabSize: 101, seed: 3 });
  const ids = randomTokens(o.T, o.V, 5);
  const run = (x: number[]) => gpt2Reference(ck.config, ck.tensors, x);

  it('hooks have INTERP.md shapes and satisfy the invariants', () => {
    const r = run(ids);
    const get = checkInvariants(r, o);
    expect(get('hook_pos_embed').shape).toEqual([o.T, o.d]);
    // hook_embed + hook_pos_embed = resid_pre of block 0
    const e = get('hook_embed').data;
    const p = get('hook_pos_embed').data;
    expect(maxAbsDiff(get('blocks.0.hook_resid_pre').data, e.map((v, i) => v + p[i]!))).toBe(0);
    // LayerNorm scale = sqrt(var + eps) of the residual it normalises
    const x = get('blocks.1.hook_resid_mid').data;
    const s = get('blocks.1.ln2.hook_scale').data;
    for (let t = 0; t < o.T; t++) {
      const row = x.subarray(t * o.d, (t + 1) * o.d);
      const mean = row.reduce((a, v) => a + v, 0) / o.d;
      const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / o.d;
      expect(Math.abs(s[t]! - Math.sqrt(variance + 1e-5))).toBeLessThan(1e-12);
    }
    // gelu_new on hook_pre gives hook_post
    const pre = get('blocks.0.mlp.hook_pre').data;
    const post = get('blocks.0.mlp.hook_post').data;
    const g = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    expect(maxAbsDiff(post, pre.map(g))).toBeLessThan(1e-12);
  });

  it('is causal', () => checkCausal(run, ids, o.V));

  it('reads the written files back to the same result, with or without the transformer. prefix', () => {
    const back = readHfCheckpoint(ck.dir);
    expect(back.config).toEqual(ck.config);
    expect(maxAbsDiff(gpt2Reference(back.config as unknown as Gpt2RefConfig, back.tensors, ids).logits, run(ids).logits)).toBe(0);
    const bare = writeRandomGpt2(join(tmp, 'gpt2-bare'), { nLayer: 2, nEmbd: 32, nHead: 4, vocabSize: 101, seed: 3, namePrefix: '' });
    expect(Object.keys(bare.tensors)[0]).toBe('wte.weight');
    expect(maxAbsDiff(gpt2Reference(bare.config, bare.tensors, ids).logits, run(ids).logits)).toBe(0);
  });
});

describe('Llama reference', () => {
  const o = { T: 12, d: 32, L: 2, H: 4, Hkv: 2, dh: 8, dff: 56, V: 103 };
  const ck = writeRandomLlama(join(tmp, 'llama'), { seed: 4 });
  const ids = randomTokens(o.T, o.V, 6);
  const run = (x: number[]) => llamaReference(ck.config, ck.tensors, x);

  it('writes an untied, grouped-KV config', () => {
    expect(ck.config).toMatchObject({ num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: false, rope_theta: 500000 });
    expect(ck.tensors['lm_head.weight']!.shape).toEqual([o.V, o.d]);
    expect(ck.tensors['model.layers.0.self_attn.k_proj.weight']!.shape).toEqual([o.Hkv * o.dh, o.d]);
  });

  it('hooks have INTERP.md shapes and satisfy the invariants', () => {
    const r = run(ids);
    const get = checkInvariants(r, o);
    expect(r.hooks['hook_pos_embed']).toBeUndefined();
    expect(get('blocks.0.mlp.hook_pre_linear').shape).toEqual([o.T, o.dff]);
    // hook_post = silu(gate) * up
    const gate = get('blocks.1.mlp.hook_pre').data;
    const up = get('blocks.1.mlp.hook_pre_linear').data;
    expect(maxAbsDiff(get('blocks.1.mlp.hook_post').data, gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]!))).toBeLessThan(1e-12);
    // RMSNorm scale = sqrt(mean(x²) + eps)
    const x = get('blocks.0.hook_resid_pre').data;
    const s = get('blocks.0.ln1.hook_scale').data;
    for (let t = 0; t < o.T; t++) {
      const row = x.subarray(t * o.d, (t + 1) * o.d);
      expect(Math.abs(s[t]! - Math.sqrt(row.reduce((a, v) => a + v * v, 0) / o.d + 1e-6))).toBeLessThan(1e-12);
    }
  });

  it('is causal', () => checkCausal(run, ids, o.V));

  it('ties the head to the embedding when asked', () => {
    const tied = writeRandomLlama(join(tmp, 'llama-tied'), { seed: 4, tieWordEmbeddings: true });
    expect(tied.tensors['lm_head.weight']).toBeUndefined();
    const r = llamaReference(tied.config, tied.tensors, ids);
    checkInvariants(r, o);
  });
});

// ----------------------------------------------------------------------------------------------
// safetensors helpers

describe('safetensors writer and reader', () => {
  it('converts to float16 and bfloat16 with round-to-nearest-even', () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(1e6)).toBe(0x7c00);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001);
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie -> even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even (up)
    expect(f16BitsToF32(0x3555)).toBeCloseTo(0.33325, 5);
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(bf16BitsToF32(f32ToBf16Bits(Math.PI))).toBe(3.140625);
    for (let i = -3000; i < 3000; i += 7) {
      const v = i / 97;
      expect(Math.abs(f16BitsToF32(f32ToF16Bits(v)) - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 1e-9);
      expect(Math.abs(bf16BitsToF32(f32ToBf16Bits(v)) - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -8 + 1e-9);
    }
  });

  for (const dtype of ['F16', 'BF16'] as const) {
    it(`${dtype} checkpoints read back to exactly the returned (rounded) tensors, also sharded`, () => {
      const f32 = writeRandomLlama(join(tmp, `llama-f32-${dtype}`), { seed: 9 });
      const ck = writeRandomLlama(join(tmp, `llama-${dtype}`), { seed: 9, dtype, shards: 3 });
      expect(existsSync(join(ck.dir, 'model.safetensors.index.json'))).toBe(true);
      expect(existsSync(join(ck.dir, 'model-00003-of-00003.safetensors'))).toBe(true);
      const back = readHfCheckpoint(ck.dir);
      expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(ck.tensors).sort());
      for (const [name, t] of Object.entries(ck.tensors)) {
        expect(back.tensors[name]!.shape).toEqual(t.shape);
        expect(maxAbsDiff(back.tensors[name]!.data, t.data)).toBe(0);
        // rounded, but close to the F32 draw of the same seed
        expect(maxAbsDiff(t.data, f32.tensors[name]!.data)).toBeLessThan(dtype === 'F16' ? 2e-3 : 2e-2);
      }
      const header = readFileSync(join(ck.dir, 'model-00001-of-00003.safetensors'));
      const n = Number(header.readBigUInt64LE(0));
      expect((8 + n) % 8).toBe(0);
      expect(JSON.parse(header.subarray(8, 8 + n).toString('utf8')).__metadata__).toEqual({ format: 'pt' });
    });
  }
});
