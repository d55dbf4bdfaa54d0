/**
 * The llama2.c loader: a tiny checkpoint written here (known values, so the [out, in] → [in, out]
 * transpose and the W_Q/W_K rotate_half permutation are checked element by element, plus the
 * invariant that attention scores are unchanged), size checks, and the real stories260K file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { needSharedFixtures, stories260K } from '../../../helpers/shared-fixtures.js';
import { tempDir } from './temp-dir.js';
import { ModelError, type Tensor } from '../../../../shared/engine/decoder.js';
import { describeModel, loadModel } from '../../../../server/engine/load.js';
import { loadLlama2c, rotateHalfOrder } from '../../../../server/engine/loaders/llama2c.js';

interface Sizes { dim: number; hidden: number; layers: number; heads: number; kvHeads: number; vocab: number; seqLen: number; shared: boolean }
const tiny: Sizes = { dim: 8, hidden: 6, layers: 2, heads: 2, kvHeads: 1, vocab: 5, seqLen: 4, shared: true };

/**
 * Writes a version-0 checkpoint. Matrices [out, in] hold offset + out·100 + in, with a distinct
 * offset per array and layer (wq: 10_000·(l+1), wk: 20_000·(l+1), …) so every value is traceable.
 */
function writeCheckpoint(path: string, s: Sizes): void {
  const dh = s.dim / s.heads;
  const kv = s.kvHeads * dh;
  const floats: number[] = [];
  const matrix = (rows: number, cols: number, offset: number) => {
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) floats.push(offset + r * 100 + c);
  };
  const perLayer = (rows: number, cols: number, base: number) => {
    for (let l = 0; l < s.layers; l++) matrix(rows, cols, base * (l + 1));
  };
  matrix(s.vocab, s.dim, 0.5); // token embedding
  perLayer(1, s.dim, 1000); // rms_att
  perLayer(s.dim, s.dim, 10_000); // wq
  perLayer(kv, s.dim, 20_000); // wk
  perLayer(kv, s.dim, 30_000); // wv
  perLayer(s.dim, s.dim, 40_000); // wo
  perLayer(1, s.dim, 2000); // rms_ffn
  perLayer(s.hidden, s.dim, 50_000); // w1
  perLayer(s.dim, s.hidden, 60_000); // w2
  perLayer(s.hidden, s.dim, 70_000); // w3
  matrix(1, s.dim, 3000); // rms_final
  matrix(2 * s.seqLen, dh / 2, -1); // legacy RoPE tables, skipped
  if (!s.shared) matrix(s.vocab, s.dim, 0.25); // wcls
  const header = Buffer.alloc(28);
  [s.dim, s.hidden, s.layers, s.heads, s.kvHeads, s.shared ? s.vocab : -s.vocab, s.seqLen].forEach((v, i) => header.writeInt32LE(v, 4 * i));
  writeFileSync(path, Buffer.concat([header, Buffer.from(Float32Array.from(floats).buffer)]));
}

const at = (t: Tensor, r: number, c: number) => t.data[r * t.shape[1]! + c]!;
const tmp = () => tempDir('llama2c-');

describe('llama2.c loader', () => {
  it('produces the canonical spec and shapes', () => {
    const path = join(tmp(), 'model.bin');
    writeCheckpoint(path, tiny);
    const { spec, weights } = loadLlama2c(path);
    expect(spec).toMatchObject({
      nLayers: 2, dModel: 8, nHeads: 2, nKvHeads: 1, dHead: 4, dMlp: 6, vocabSize: 5, contextLength: 4,
      norm: { kind: 'rmsnorm', eps: 1e-5 }, mlp: { kind: 'gated', activation: 'silu' }, positional: { kind: 'rotary', theta: 10000 },
      biases: { qkv: false, attnOut: false, mlp: false, unembed: false }, attnScale: 0.5,
    });
    expect(weights['blocks.1.attn.W_Q']!.shape).toEqual([8, 8]);
    expect(weights['blocks.1.attn.W_K']!.shape).toEqual([8, 4]);
    expect(weights['blocks.1.mlp.W_out']!.shape).toEqual([6, 8]);
    expect(weights['unembed.W_U']!.shape).toEqual([8, 5]);
  });

  it('permutes W_Q/W_K output columns per head to rotate_half order [0, 2, 1, 3]', () => {
    expect(rotateHalfOrder(2, 4)).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
    const path = join(tmp(), 'model.bin');
    writeCheckpoint(path, tiny);
    const { weights: w } = loadLlama2c(path);
    // Canonical W_Q[in, new] = wq[old(new), in] = 10_000·(l+1) + old·100 + in. Layer 1, input 3:
    expect(at(w['blocks.1.attn.W_Q']!, 3, 0)).toBe(20_000 + 0 * 100 + 3); // new 0 ← old 0
    expect(at(w['blocks.1.attn.W_Q']!, 3, 1)).toBe(20_000 + 2 * 100 + 3); // new 1 ← old 2
    expect(at(w['blocks.1.attn.W_Q']!, 3, 2)).toBe(20_000 + 1 * 100 + 3); // new 2 ← old 1
    expect(at(w['blocks.1.attn.W_Q']!, 3, 5)).toBe(20_000 + 6 * 100 + 3); // head 1: new 5 ← old 6
    expect(at(w['blocks.0.attn.W_K']!, 7, 1)).toBe(20_000 + 2 * 100 + 7);
    // V, O and the MLP are only transposed.
    expect(at(w['blocks.0.attn.W_V']!, 7, 1)).toBe(30_000 + 1 * 100 + 7);
    expect(at(w['blocks.1.attn.W_O']!, 2, 5)).toBe(80_000 + 5 * 100 + 2);
    expect(at(w['blocks.1.mlp.W_gate']!, 4, 3)).toBe(100_000 + 3 * 100 + 4); // w1
    expect(at(w['blocks.1.mlp.W_in']!, 4, 3)).toBe(140_000 + 3 * 100 + 4); // w3
    expect(at(w['blocks.1.mlp.W_out']!, 3, 4)).toBe(120_000 + 4 * 100 + 3); // w2
    expect(w['blocks.1.ln1.w']!.data[6]).toBe(2000 + 6);
    expect(w['blocks.0.ln2.w']!.data[6]).toBe(2000 + 6);
    expect(w['ln_final.w']!.data[7]).toBe(3000 + 7);
    expect(at(w['unembed.W_U']!, 6, 4)).toBe(0.5 + 400 + 6); // shared: W_Eᵀ
  });

  it('leaves attention scores unchanged: consecutive-pair RoPE on the file = rotate_half RoPE on the loaded weights', () => {
    const s: Sizes = { ...tiny, dim: 16, heads: 2, kvHeads: 2 }; // dh = 8
    const path = join(tmp(), 'model.bin');
    writeCheckpoint(path, s);
    const { weights } = loadLlama2c(path);
    const raw = new Float32Array(readFileSync(path).buffer.slice(28));
    const dh = 8;
    const wqOffset = s.vocab * s.dim + s.layers * s.dim; // layer 0's wq [d, d] in the file
    const wkOffset = wqOffset + s.layers * s.dim * s.dim;
    const x = Array.from({ length: s.dim }, (_, i) => Math.sin(i + 1));
    const y = Array.from({ length: s.dim }, (_, i) => Math.cos(2 * i + 1));
    const fileProject = (offset: number, v: number[]) => Array.from({ length: s.dim }, (_, o) => v.reduce((acc, vi, i) => acc + raw[offset + o * s.dim + i]! * vi, 0));
    const canonicalProject = (W: Tensor, v: number[]) => Array.from({ length: W.shape[1]! }, (_, o) => v.reduce((acc, vi, i) => acc + at(W, i, o) * vi, 0));
    const angle = (pos: number, i: number) => pos * Math.pow(10000, (-2 * i) / dh);
    const ropeConsecutive = (v: number[], pos: number) => v.map((_, j) => {
      const h = Math.floor(j / dh) * dh, k = j - h, i = Math.floor(k / 2), a = angle(pos, i);
      return k % 2 === 0 ? v[j]! * Math.cos(a) - v[j + 1]! * Math.sin(a) : v[j - 1]! * Math.sin(a) + v[j]! * Math.cos(a);
    });
    const ropeHalf = (v: number[], pos: number) => v.map((_, j) => {
      const h = Math.floor(j / dh) * dh, k = j - h, half = dh / 2, i = k % half, a = angle(pos, i);
      return k < half ? v[j]! * Math.cos(a) - v[j + half]! * Math.sin(a) : v[j - half]! * Math.sin(a) + v[j]! * Math.cos(a);
    });
    const scores = (q: number[], k: number[]) => [0, 1].map((h) => q.slice(h * dh, (h + 1) * dh).reduce((acc, qi, i) => acc + qi * k[h * dh + i]!, 0));
    const before = scores(ropeConsecutive(fileProject(wqOffset, x), 3), ropeConsecutive(fileProject(wkOffset, y), 1));
    const after = scores(ropeHalf(canonicalProject(weights['blocks.0.attn.W_Q']!, x), 3), ropeHalf(canonicalProject(weights['blocks.0.attn.W_K']!, y), 1));
    for (let h = 0; h < 2; h++) expect(Math.abs(after[h]! - before[h]!)).toBeLessThanOrEqual(1e-6 * Math.abs(before[h]!));
    // Without the permutation the scores would differ (guards against a vacuous check).
    const unpermuted = scores(ropeHalf(fileProject(wqOffset, x), 3), ropeHalf(fileProject(wkOffset, y), 1));
    expect(Math.abs(unpermuted[0]! - before[0]!)).toBeGreaterThan(1e-3 * Math.abs(before[0]!));
  });

  it('reads an unshared classifier (negative vocab_size)', () => {
    const path = join(tmp(), 'model.bin');
    writeCheckpoint(path, { ...tiny, shared: false });
    const { weights } = loadLlama2c(path);
    expect(at(weights['unembed.W_U']!, 6, 4)).toBe(0.25 + 400 + 6);
    expect(at(weights['embed.W_E']!, 4, 6)).toBe(0.5 + 400 + 6);
  });

  it('refuses truncated, oversized and version ≥ 1 files with a clear ModelError', () => {
    const dir = tmp();
    const path = join(dir, 'model.bin');
    writeCheckpoint(path, tiny);
    const full = readFileSync(path);
    writeFileSync(join(dir, 'cut.bin'), full.subarray(0, full.length - 4));
    expect(() => loadLlama2c(join(dir, 'cut.bin'))).toThrow(ModelError);
    expect(() => loadLlama2c(join(dir, 'cut.bin'))).toThrow(new RegExp(`file is ${full.length - 4} bytes but its llama2.c header .* implies ${full.length}; the file is truncated`));
    writeFileSync(join(dir, 'long.bin'), Buffer.concat([full, Buffer.alloc(4)]));
    expect(() => loadLlama2c(join(dir, 'long.bin'))).toThrow(/corrupt or not a version-0 export/);
    const v1 = Buffer.alloc(256);
    v1.writeUInt32LE(0x616b3432, 0);
    v1.writeInt32LE(1, 4);
    writeFileSync(join(dir, 'v1.bin'), v1);
    expect(() => loadLlama2c(join(dir, 'v1.bin'))).toThrow(/version 1 export; only the version-0 \(legacy\) layout is supported/);
    writeFileSync(join(dir, 'short.bin'), Buffer.alloc(10));
    expect(() => loadLlama2c(join(dir, 'short.bin'))).toThrow(/shorter than the 28-byte header/);
    const zeros = Buffer.alloc(28);
    writeFileSync(join(dir, 'zeros.bin'), zeros);
    expect(() => loadLlama2c(join(dir, 'zeros.bin'))).toThrow(/sizes must be positive/);
  });
});

const fixtures = stories260K;
const present = needSharedFixtures('the stories260K loader tests', join(fixtures, 'stories260K.bin'));

describe.skipIf(!present)('stories260K.bin', () => {
  it('loads with its tokenizer found beside it (tok512.bin)', async () => {
    const model = await loadModel(join(fixtures, 'stories260K.bin'));
    expect(model.decoder.spec).toMatchObject({ nLayers: 5, dModel: 64, nHeads: 8, nKvHeads: 4, dHead: 8, dMlp: 172, vocabSize: 512, contextLength: 512 });
    expect(model.tokenizer.vocabSize).toBe(512);
    // 512·64 embedding + 5 layers × (64 + 64² + 2·32·64 + 64² + 64 + 3·172·64) + 64 = 260,032.
    expect(describeModel(model)).toMatchObject({ parameters: 260_032, tiedEmbeddings: true, architecture: 'llama2.c' });
  });

  it('W_Q of layer 2 matches the file bytes through transpose and head permutation', async () => {
    const { decoder } = await loadModel(join(fixtures, 'stories260K.bin'));
    const raw = new Float32Array(readFileSync(join(fixtures, 'stories260K.bin')).buffer.slice(28));
    const [V, d, L] = [512, 64, 5];
    const wq = V * d + L * d; // wq [L, d, d] follows the embedding and rms_att
    const fileWq = (l: number, out: number, inp: number) => raw[wq + l * d * d + out * d + inp]!;
    const W_Q = decoder.weights['blocks.2.attn.W_Q']!;
    // Head 3 (dh 8), new column 3·8 + 5 = 29 = second half, i = 1 ← old 3·8 + 2·1 + 1 = 27.
    expect(at(W_Q, 10, 29)).toBe(fileWq(2, 27, 10));
    expect(at(W_Q, 10, 26)).toBe(fileWq(2, 28, 10)); // new 3·8 + 2 ← old 3·8 + 4
    expect(at(W_Q, 10, 29)).not.toBe(fileWq(2, 29, 10));
  });
});
