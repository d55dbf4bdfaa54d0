/**
 * A backward graph past protobuf's 2 GB limit loads and computes the right numbers: GPT-2-large
 * shapes (36 layers, d = 1280; the full-mode backward graph holds 2.8 GB of matrices), weights
 * written through an external-data file. Every weight is zero except the last block's W_out,
 * the final LayerNorm and its scale, so the gradient at the last MLP's neurons is checked
 * against a plain-loop LayerNorm backward and product with W_outᵀ written here: weights read at
 * a wrong offset, or not at all, would not give it.
 *
 * Slow (writes and loads 2.8 GB: about a minute, 6 GB of memory): it runs under CI, or with
 * CIRCUITS_SLOW_TESTS=1.
 */
import { describe, expect, it } from 'vitest';
import type { Decoder, Tensor, Weights } from '../../../shared/engine/decoder.js';
import { hookName } from '../../../shared/engine/hooks.js';
import { BackwardRunner } from '../../../shared/engine/backward-runner.js';
import { backwardInputs, backwardName, buildBackwardGraph } from '../../../shared/engine/onnx/compile-backward.js';
import { seededRandom } from '../../../shared/engine/generate.js';
import { gpt2Spec } from '../../../shared/engine/random-decoder.js';
import { PROTOBUF_LIMIT, protoBytesEstimate } from '../../../server/engine/session.js';
import { underCi } from '../../helpers/shared-fixtures.js';

const slow = underCi() || process.env.CIRCUITS_SLOW_TESTS === '1';
if (!slow) console.log('skipping the 2 GB backward graph test (slow): set CIRCUITS_SLOW_TESTS=1 or CI to run it');

describe.runIf(slow)('a backward graph past 2 GB', () => {
  it('loads through external data and gives the plain-loop gradient at the last MLP', async () => {
    const spec = gpt2Spec({ nLayers: 36, dModel: 1280, nHeads: 20, vocabSize: 50257, contextLength: 1024 });
    const { dModel: d, dMlp: m, nLayers: L, nHeads: H, dHead: dh } = spec;
    const random = seededRandom(11);
    const noise = (n: number, scale: number, offset = 0) => Float32Array.from({ length: n }, () => offset + (random() - 0.5) * scale);
    // Zero-filled arrays that are never written stay unallocated pages: only what is random costs memory here.
    const weights: Weights = {};
    const add = (name: string, shape: number[], data?: Float32Array) => {
      weights[name] = { shape, data: data ?? new Float32Array(shape.reduce((a, b) => a * b, 1)) };
    };
    add('embed.W_E', [spec.vocabSize, d]); add('pos_embed.W_pos', [spec.contextLength, d]); add('unembed.W_U', [d, spec.vocabSize]);
    add('ln_final.w', [d], noise(d, 0.5, 1)); add('ln_final.b', [d], noise(d, 0.1));
    for (let l = 0; l < L; l++) {
      const b = `blocks.${l}`;
      for (const n of ['ln1', 'ln2']) { add(`${b}.${n}.w`, [d]); add(`${b}.${n}.b`, [d]); }
      for (const w of ['W_Q', 'W_K', 'W_V', 'W_O']) add(`${b}.attn.${w}`, [d, d]);
      for (const w of ['b_Q', 'b_K', 'b_V', 'b_O']) add(`${b}.attn.${w}`, [d]);
      add(`${b}.mlp.W_in`, [d, m]);
      add(`${b}.mlp.W_out`, [m, d], l === L - 1 ? noise(m * d, 0.1) : undefined);
      add(`${b}.mlp.b_in`, [m]); add(`${b}.mlp.b_out`, [d]);
    }
    const decoder: Decoder = { spec, weights, source: 'sparse random, GPT-2 large shapes' };
    expect(protoBytesEstimate(buildBackwardGraph(decoder, 'full'))).toBeGreaterThan(PROTOBUF_LIMIT);

    const runner = await BackwardRunner.create(decoder, 'full', { onNotice: () => {} });
    // Forward hooks as feeds: any values will do for the layers whose weights are zero.
    const T = 3;
    const shapeOf = (name: string): number[] => {
      if (name === hookName.pattern(0) || /attn\.hook_pattern$/.test(name)) return [1, H, T, T];
      if (/hook_(q|k|v)$/.test(name)) return [1, T, H, dh];
      if (/hook_scale$/.test(name)) return [1, T, 1];
      if (/mlp\.hook_(pre|post)/.test(name)) return [1, T, m];
      return [1, T, d];
    };
    const cache: Record<string, Tensor> = {};
    for (const name of backwardInputs(spec, 'full')) {
      const shape = shapeOf(name);
      const n = shape.reduce((a, b) => a * b, 1);
      cache[name] = { shape, data: /hook_scale$/.test(name) ? noise(n, 0.5, 1.5) : noise(n, 1) };
    }
    const gradFinal: Tensor = { shape: [1, T, d], data: noise(T * d, 1) };
    const out = await runner.run(cache, { [backwardName.gradFinal]: gradFinal }, [backwardName.gradMlpPost(L - 1)]);
    await runner.dispose();

    // Plain loops: LayerNorm backward at ln_final (scale s, x̂ = (x − μ)/s), then · W_outᵀ.
    const x = cache[hookName.residPost(L - 1)]!.data;
    const s = cache[hookName.lnFinalScale]!.data;
    const gamma = weights['ln_final.w']!.data;
    const W_out = weights[`blocks.${L - 1}.mlp.W_out`]!.data;
    const got = out[backwardName.gradMlpPost(L - 1)]!;
    expect(got.shape).toEqual([1, T, m]);
    let worst = 0;
    for (let t = 0; t < T; t++) {
      let mean = 0;
      for (let j = 0; j < d; j++) mean += x[t * d + j]!;
      mean /= d;
      const xHat = Array.from({ length: d }, (_, j) => (x[t * d + j]! - mean) / s[t]!);
      const gHat = Array.from({ length: d }, (_, j) => gamma[j]! * gradFinal.data[t * d + j]!);
      const meanG = gHat.reduce((a, b) => a + b, 0) / d;
      const meanGX = gHat.reduce((a, g, j) => a + g * xHat[j]!, 0) / d;
      const gResid = gHat.map((g, j) => (g - xHat[j]! * meanGX - meanG) / s[t]!);
      for (let i = 0; i < m; i++) {
        let expected = 0;
        for (let j = 0; j < d; j++) expected += W_out[i * d + j]! * gResid[j]!;
        worst = Math.max(worst, Math.abs(got.data[t * m + i]! - expected) / Math.max(1, Math.abs(expected)));
      }
    }
    expect(worst).toBeLessThan(1e-4);
  }, 300_000);
});
