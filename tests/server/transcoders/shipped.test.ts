/**
 * The shipped transcoders (assets/models/brown-gpt2/transcoders) still meet their card: on the
 * card's fixed check text, the bundled model run by the engine and the transcoders run by the
 * TypeScript loader and ONNX forward give the per-layer FVU and L0 that evaluate.py recorded in
 * evaluation.json (and wrote into TRANSCODERS_CARD.md). A regenerated or corrupted file that
 * drifts from the card fails here.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../../server/engine/load.js';
import { ModelRunner } from '../../../shared/engine/runner.js';
import { TranscoderRunner } from '../../../shared/transcoders/forward.js';
import { transcoderHooks, transcoderInput, transcoderTarget } from '../../../shared/transcoders/inputs.js';
import { loadTranscoderSet } from '../../../server/transcoders/load.js';

const modelDir = fileURLToPath(new URL('../../../assets/models/brown-gpt2/', import.meta.url));
const setDir = `${modelDir}transcoders/`;

interface Evaluation {
  check: { tokens: number[]; per_layer: { fvu: number; l0: number }[] };
  per_layer: { fvu: number; l0: number }[];
  features: number;
}

describe('shipped brown-gpt2 transcoders', () => {
  it('reproduce the card’s FVU and L0 on the check text', async () => {
    const evaluation = JSON.parse(readFileSync(`${setDir}evaluation.json`, 'utf8')) as Evaluation;
    const card = readFileSync(`${setDir}TRANSCODERS_CARD.md`, 'utf8');
    const { decoder } = await loadModel(modelDir);
    const set = loadTranscoderSet(setDir, decoder.spec);
    expect(set.activation.kind).toBe('jumprelu');
    expect(set.layers.map((t) => t.nFeatures)).toEqual(set.layers.map(() => evaluation.features));
    const runner = await ModelRunner.create(decoder);
    const transcoders = await TranscoderRunner.create(set);
    try {
      const L = decoder.spec.nLayers;
      const d = decoder.spec.dModel;
      const hooks = Array.from({ length: L }, (_, l) => transcoderHooks(set.inputHook, l)).flat();
      const { cache } = await runner.run([evaluation.check.tokens], { hooks });
      for (let l = 0; l < L; l++) {
        const x = transcoderInput(set.inputHook, decoder, cache, l);
        const y = transcoderTarget(decoder, cache, l).data;
        const { features, reconstruction } = await transcoders.run(l, x);
        const N = x.shape[0]!;
        const mean = new Float64Array(d);
        for (let n = 0; n < N; n++) for (let j = 0; j < d; j++) mean[j] += y[n * d + j]! / N;
        let err = 0;
        let total = 0;
        for (let i = 0; i < y.length; i++) {
          err += (y[i]! - reconstruction.data[i]!) ** 2;
          total += (y[i]! - mean[i % d]!) ** 2;
        }
        const fvu = err / total;
        const l0 = features.data.reduce((count, v) => count + (v > 0 ? 1 : 0), 0) / N;
        const expected = evaluation.check.per_layer[l]!;
        expect(Math.abs(fvu - expected.fvu), `layer ${l}: FVU ${fvu} vs the card's ${expected.fvu}`).toBeLessThanOrEqual(0.005 + 0.02 * expected.fvu);
        expect(Math.abs(l0 - expected.l0), `layer ${l}: L0 ${l0} vs the card's ${expected.l0}`).toBeLessThanOrEqual(0.5);
        // The transcoder explains something, and sparsely: not a degenerate file that a loose tolerance would let by.
        expect(fvu).toBeLessThan(0.5);
        expect(l0).toBeGreaterThan(1);
        expect(l0).toBeLessThan(0.05 * evaluation.features);
        // The held-out figures meet the aims (FVU ≤ 0.15 at L0 ≤ 32), and the card shows them.
        expect(evaluation.per_layer[l]!.fvu).toBeLessThanOrEqual(0.15);
        expect(evaluation.per_layer[l]!.l0).toBeLessThanOrEqual(32);
        expect(card).toContain(`| ${l} | **${evaluation.per_layer[l]!.fvu.toFixed(3)}** |`);
      }
    } finally {
      await runner.dispose();
      await transcoders.dispose();
    }
  });
});
