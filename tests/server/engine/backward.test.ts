/**
 * The backward graphs against independent truths: the full gradient against central finite
 * differences of the forward graph (perturbing hooks through additive interventions), and the
 * linearised model's completeness (Σ incoming edges + constants = the actual value).
 */
import { describe, expect, it } from 'vitest';
import type { Decoder, Tensor } from '../../../shared/engine/decoder.js';
import { allHookNames, hookName } from '../../../shared/engine/hooks.js';
import { BackwardRunner } from '../../../shared/engine/backward-runner.js';
import { backwardName } from '../../../shared/engine/onnx/compile-backward.js';
import { seededRandom } from '../../../shared/engine/generate.js';
import { gpt2Spec, llamaSpec, randomDecoder } from '../../../shared/engine/random-decoder.js';
import { ModelRunner } from '../../../shared/engine/runner.js';

const families: Record<string, Decoder> = {
  gpt2: randomDecoder(gpt2Spec({ nLayers: 3, dModel: 32, nHeads: 4, vocabSize: 61, contextLength: 32 }), 21, 0.25),
  llama: randomDecoder(llamaSpec({ nLayers: 3, dModel: 32, nHeads: 4, nKvHeads: 2, dMlp: 40, vocabSize: 61, contextLength: 32 }), 22, 0.25),
};
const prompt = [3, 14, 15, 9, 26, 5, 35, 8];
const target = 7;
const distractor = 19;

/** The cotangent on ln_final's output for Δ = logit[P, target] − logit[P, distractor]. */
function deltaCotangent(decoder: Decoder, T: number): Tensor {
  const { dModel: d, vocabSize: V } = decoder.spec;
  const W_U = decoder.weights['unembed.W_U']!.data;
  const data = new Float32Array(T * d);
  for (let i = 0; i < d; i++) data[(T - 1) * d + i] = W_U[i * V + target]! - W_U[i * V + distractor]!;
  return { shape: [1, T, d], data };
}

function logitDiff(logits: Tensor, row: number): number {
  const [, T, V] = logits.shape as [number, number, number];
  const base = (row * T + T - 1) * V;
  return logits.data[base + target]! - logits.data[base + distractor]!;
}

describe.each(Object.entries(families))('backward graphs on a random %s-style model', (_family, decoder) => {
  const spec = decoder.spec;
  const T = prompt.length;

  it('gives gradients that match central finite differences (neurons, heads, embeddings)', async () => {
    const probes = [hookName.mlpPost(0), hookName.mlpPost(1), hookName.mlpPost(2), hookName.z(0), hookName.z(2), hookName.embed];
    const forward = await ModelRunner.create(decoder, { interventions: probes });
    const backward = await BackwardRunner.create(decoder, 'full');
    const { cache } = await forward.run([prompt], { hooks: allHookNames(spec) });
    const gradNames: Record<string, string> = {
      [hookName.embed]: backwardName.gradEmbed,
      [hookName.z(0)]: backwardName.gradZ(0), [hookName.z(2)]: backwardName.gradZ(2),
      [hookName.mlpPost(0)]: backwardName.gradMlpPost(0), [hookName.mlpPost(1)]: backwardName.gradMlpPost(1),
      [hookName.mlpPost(2)]: backwardName.gradMlpPost(2),
    };
    const grads = await backward.run(cache, { [backwardName.gradFinal]: deltaCotangent(decoder, T) }, Object.values(gradNames));

    const random = seededRandom(5);
    const eps = 1e-2;
    let checked = 0;
    for (const probe of probes) {
      const width = cache[probe]!.data.length / T; // elements per position
      const samples = probe.includes('mlp') ? 12 : 6;
      // One batched forward call: rows 2s and 2s+1 perturb sample s by ±ε.
      const picks = Array.from({ length: samples }, () => Math.floor(random() * T * width));
      const delta = new Float32Array(2 * samples * T * width);
      picks.forEach((flat, s) => {
        delta[2 * s * T * width + flat] = eps;
        delta[(2 * s + 1) * T * width + flat] = -eps;
      });
      const shape = [2 * samples, ...cache[probe]!.shape.slice(1)];
      const { logits } = await forward.run(Array.from({ length: 2 * samples }, () => prompt), { deltas: { [probe]: { shape, data: delta } } });
      const grad = grads[gradNames[probe]!]!.data;
      picks.forEach((flat, s) => {
        const plus = logitDiff(logits, 2 * s);
        const minus = logitDiff(logits, 2 * s + 1);
        const numeric = (plus - minus) / (2 * eps);
        const analytic = grad[flat]!;
        // Float32 rounding of Δ limits what a finite difference can resolve: skip gradients
        // within 100× of that floor, where a relative error says nothing.
        const floor = (4 * 2 ** -23 * Math.max(1, Math.abs(plus), Math.abs(minus))) / (2 * eps);
        if (Math.max(Math.abs(analytic), Math.abs(numeric)) < 100 * floor) return;
        const relative = Math.abs(numeric - analytic) / Math.max(Math.abs(numeric), Math.abs(analytic));
        if (relative > 1e-2) console.log(`${probe}[${flat}] analytic ${analytic} numeric ${numeric}`);
        expect(relative).toBeLessThan(1e-2);
        checked++;
      });
    }
    expect(checked).toBeGreaterThanOrEqual(30);
  });

  it('linearised model: Σ incoming edges + constants = each target\'s actual value', async () => {
    const forward = await ModelRunner.create(decoder);
    const backward = await BackwardRunner.create(decoder, 'linear');
    const { logits, cache } = await forward.run([prompt], { hooks: [...allHookNames(spec)] });
    const { dModel: d, dMlp: m, nLayers: L } = spec;
    const preWeight = spec.mlp.kind === 'gated' ? 'W_gate' : 'W_in';
    const preBias = spec.mlp.kind === 'gated' ? 'b_gate' : 'b_in';
    // Targets: the Δ node (row 0) and a few neurons of layers 1..L-1 at various positions.
    const targets = [{ l: 1, p: 3, i: 5 }, { l: 2, p: T - 1, i: 0 }, { l: 2, p: 0, i: 17 }, { l: 1, p: T - 1, i: 30 }];
    const N = 1 + targets.length;
    const gradFinal = new Float32Array(N * T * d);
    gradFinal.set(deltaCotangent(decoder, T).data, 0);
    const injects: Record<string, Tensor> = {};
    for (let l = 0; l < L; l++) injects[backwardName.inject(l)] = { shape: [N, T, d], data: new Float32Array(N * T * d) };
    targets.forEach(({ l, p, i }, k) => {
      const W = decoder.weights[`blocks.${l}.mlp.${preWeight}`]!.data;
      for (let j = 0; j < d; j++) injects[backwardName.inject(l)]!.data[((k + 1) * T + p) * d + j] = W[j * m + i]!;
    });
    const fetch = [backwardName.edgesEmbed, backwardName.constants, ...Array.from({ length: L }, (_, l) => backwardName.edges(l))];
    const out = await backward.run(cache, { [backwardName.gradFinal]: { shape: [N, T, d], data: gradFinal }, ...injects }, fetch);

    const incoming = (row: number) => {
      let sum = 0;
      for (const name of fetch.filter((f) => f !== backwardName.constants)) {
        const data = out[name]!.data;
        const perRow = data.length / N;
        for (let j = 0; j < perRow; j++) sum += data[row * perRow + j]!;
      }
      return sum + out[backwardName.constants]!.data[row]!;
    };
    // Δ: plus the final norm's offset β·u (the unembedding has no bias here).
    const beta = decoder.weights['ln_final.b']?.data;
    const u = deltaCotangent(decoder, T).data.subarray((T - 1) * d);
    const deltaConstant = beta ? beta.reduce((acc, b, j) => acc + b * u[j]!, 0) : 0;
    const actualDelta = logitDiff(logits, 0);
    expect(Math.abs(incoming(0) + deltaConstant - actualDelta)).toBeLessThan(1e-4 * Math.max(1, Math.abs(actualDelta)));
    targets.forEach(({ l, p, i }, k) => {
      const W = decoder.weights[`blocks.${l}.mlp.${preWeight}`]!.data;
      const beta2 = decoder.weights[`blocks.${l}.ln2.b`]?.data;
      const bias = decoder.weights[`blocks.${l}.mlp.${preBias}`]?.data;
      let local = bias ? bias[i]! : 0;
      if (beta2) for (let j = 0; j < d; j++) local += beta2[j]! * W[j * m + i]!;
      const actual = cache[hookName.mlpPre(l)]!.data[p * m + i]!;
      const total = incoming(k + 1) + local;
      expect(Math.abs(total - actual)).toBeLessThan(1e-4 * Math.max(1, Math.abs(actual)));
    });
  });
});
