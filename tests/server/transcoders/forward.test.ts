/**
 * The ONNX transcoder forward against a float64 reference written here, separately from the
 * graph: features, reconstruction and skip within 1e-4 for ReLU, JumpReLU and TopK sets, with
 * and without skip, stored F32 or F16 (the reference uses the stored, rounded values).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../../shared/engine/generate.js';
import { TranscoderRunner } from '../../../shared/transcoders/forward.js';
import { loadTranscoderSet } from '../../../server/transcoders/load.js';
import { maxAbsDiff } from '../../helpers/compare.js';
import { randomTensor, tinySpec, writeRandomSet, type LayerWeights, type SetOptions } from './random-set.js';

const root = mkdtempSync(join(tmpdir(), 'transcoders-forward-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** float64 reference of one layer for one input row x [d]. */
function reference(w: LayerWeights, x: Float32Array, kind: SetOptions['kind'], k: number) {
  const [F, d] = w.W_enc.shape as [number, number];
  const z = new Float64Array(F);
  for (let f = 0; f < F; f++) {
    let s = w.b_enc.data[f]!;
    for (let i = 0; i < d; i++) s += w.W_enc.data[f * d + i]! * x[i]!;
    z[f] = s;
  }
  const feats = new Float64Array(F);
  if (kind === 'relu') for (let f = 0; f < F; f++) feats[f] = Math.max(0, z[f]!);
  if (kind === 'jumprelu') for (let f = 0; f < F; f++) feats[f] = z[f]! > w.threshold!.data[f]! ? z[f]! : 0;
  if (kind === 'topk') {
    const order = Array.from(z.keys()).sort((a, b) => z[b]! - z[a]!);
    for (const f of order.slice(0, k)) feats[f] = Math.max(0, z[f]!);
  }
  const skip = new Float64Array(d);
  if (w.W_skip) for (let o = 0; o < d; o++) for (let i = 0; i < d; i++) skip[o] += w.W_skip.data[o * d + i]! * x[i]!;
  const recon = Float64Array.from(skip);
  for (let o = 0; o < d; o++) {
    recon[o] += w.b_dec.data[o]!;
    for (let f = 0; f < F; f++) recon[o] += feats[f]! * w.W_dec.data[f * d + o]!;
  }
  return { feats, recon, skip };
}

describe('transcoder forward (ONNX) vs a float64 reference', () => {
  const cases: [string, SetOptions][] = [
    ['ReLU, no skip', { kind: 'relu', skip: false, layers: 2, d: 16, F: 48 }],
    ['JumpReLU with skip, F16', { kind: 'jumprelu', skip: true, layers: 2, d: 16, F: 48, dtype: 'F16' }],
    ['TopK with skip', { kind: 'topk', skip: true, layers: 2, d: 16, F: 48, k: 5 }],
    ['Gemma Scope JumpReLU (W_enc stored [d, F])', { kind: 'jumprelu', skip: false, layers: 1, d: 16, F: 40, transposedEncoder: true }],
  ];
  for (const [name, options] of cases) {
    it(name, async () => {
      const dir = join(root, name.replace(/\W+/g, '-'));
      const weights = writeRandomSet(dir, { ...options, seed: 7 });
      const set = loadTranscoderSet(dir, tinySpec(options.layers, options.d));
      const runner = await TranscoderRunner.create(set);
      try {
        const random = seededRandom(99);
        const N = 9;
        for (let l = 0; l < options.layers; l++) {
          const x = randomTensor([N, options.d], random, 1.5);
          const out = await runner.run(l, x);
          expect(out.features.shape).toEqual([N, options.F]);
          expect(out.reconstruction.shape).toEqual([N, options.d]);
          expect(out.skip === null).toBe(!options.skip);
          let active = 0;
          for (let n = 0; n < N; n++) {
            const ref = reference(weights[l]!, x.data.subarray(n * options.d, (n + 1) * options.d), options.kind, options.k ?? 0);
            const feats = out.features.data.subarray(n * options.F, (n + 1) * options.F);
            const recon = out.reconstruction.data.subarray(n * options.d, (n + 1) * options.d);
            expect(maxAbsDiff(feats, ref.feats), `layer ${l} row ${n} features`).toBeLessThanOrEqual(1e-4);
            expect(maxAbsDiff(recon, ref.recon), `layer ${l} row ${n} reconstruction`).toBeLessThanOrEqual(1e-4);
            if (out.skip) expect(maxAbsDiff(out.skip.data.subarray(n * options.d, (n + 1) * options.d), ref.skip)).toBeLessThanOrEqual(1e-4);
            active += ref.feats.filter((v) => v !== 0).length;
          }
          // The data exercise the activation: some features on, some off (TopK: exactly k per row or fewer).
          expect(active).toBeGreaterThan(0);
          expect(active).toBeLessThan(N * options.F);
          if (options.kind === 'topk') expect(active).toBeLessThanOrEqual(N * options.k!);
        }
      } finally {
        await runner.dispose();
      }
    });
  }
});
