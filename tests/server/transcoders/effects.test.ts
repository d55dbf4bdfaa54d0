/**
 * Feature direct effects on the bundled model: each layer's features carry Σ a_f (W_dec[f] · g),
 * and what they leave (`rest`) equals (b_dec + x W_skipᵀ) · g computed here in float64 from the
 * weights, independently of the ONNX reconstruction the module subtracts from; every listed
 * effect equals its activation times W_dec[f] · g recomputed here.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalysisContext } from '../../../shared/analysis/context.js';
import { resolveQuestion } from '../../../shared/analysis/question.js';
import { hookName } from '../../../shared/engine/hooks.js';
import { loadModel } from '../../../server/engine/load.js';
import { ModelRunner } from '../../../shared/engine/runner.js';
import { featureDirectEffects } from '../../../shared/transcoders/effects.js';
import { TranscoderRunner } from '../../../shared/transcoders/forward.js';
import { transcoderHooks, transcoderInput } from '../../../shared/transcoders/inputs.js';
import { loadTranscoderSet, type TranscoderSet } from '../../../server/transcoders/load.js';

const modelDir = join(new URL('../../../', import.meta.url).pathname, 'assets/models/brown-gpt2');
let context: AnalysisContext;
let set: TranscoderSet;
let transcoders: TranscoderRunner;
let runner: ModelRunner;

beforeAll(async () => {
  const model = await loadModel(modelDir);
  runner = await ModelRunner.create(model.decoder);
  context = new AnalysisContext(model, runner);
  set = loadTranscoderSet(join(modelDir, 'transcoders'), model.decoder.spec);
  transcoders = await TranscoderRunner.create(set);
});
afterAll(async () => {
  await transcoders?.dispose();
  await context?.dispose();
  await runner?.dispose();
});

describe('feature direct effects', () => {
  it('add up per layer with an independently computed b_dec + skip term', async () => {
    const decoder = context.model.decoder;
    const { dModel: d, vocabSize: V } = decoder.spec;
    const question = resolveQuestion(context.model.tokenizer, decoder, { prompt: 'When Mary and John went to the store, John gave a drink to', target: ' Mary', distractor: ' John' });
    const result = await featureDirectEffects(context, set, transcoders, question);
    const P = question.tokens.length - 1;
    // g, written out again: C(γ ⊙ (W_U[:, t] − W_U[:, d])) / s_final(P).
    const hooks = [hookName.lnFinalScale, ...set.layers.flatMap((t) => transcoderHooks(set.inputHook, t.layer))];
    const { cache } = await runner.run([question.tokens], { hooks: [...new Set(hooks)] });
    const W_U = decoder.weights['unembed.W_U']!.data;
    const gamma = decoder.weights['ln_final.w']!.data;
    const g = Float64Array.from({ length: d }, (_, i) => gamma[i]! * (W_U[i * V + question.target]! - W_U[i * V + question.distractor]!));
    const mean = g.reduce((a, b) => a + b, 0) / d;
    const s = cache[hookName.lnFinalScale]!.data[P]!;
    for (let i = 0; i < d; i++) g[i] = (g[i]! - mean) / s;

    expect(result.layers).toHaveLength(decoder.spec.nLayers);
    expect(result.features.length).toBeGreaterThan(decoder.spec.nLayers * 5);
    for (const layer of result.layers) {
      const t = set.layers[layer.layer]!;
      const x = transcoderInput(set.inputHook, decoder, cache, layer.layer).data.subarray(P * d, (P + 1) * d);
      let rest = 0;
      for (let i = 0; i < d; i++) {
        let out = t.b_dec.data[i]!;
        for (let j = 0; j < d; j++) out += t.W_skip!.data[i * d + j]! * x[j]!;
        rest += out * g[i]!;
      }
      expect(Math.abs(layer.rest - rest)).toBeLessThan(1e-3 * Math.max(1, Math.abs(rest)));
      // The features' share is the listed effects of that layer, summed.
      const carried = result.features.filter((f) => f.layer === layer.layer).reduce((a, f) => a + f.value, 0);
      expect(Math.abs(carried + layer.rest + layer.error - layer.mlp)).toBeLessThan(1e-6 * Math.max(1, Math.abs(layer.mlp)));
    }
    for (const f of result.features.slice(0, 10)) {
      const W_dec = set.layers[f.layer]!.W_dec.data;
      let w = 0;
      for (let j = 0; j < d; j++) w += W_dec[f.index * d + j]! * g[j]!;
      expect(f.value).toBeCloseTo(f.activation * w, 4);
      expect(f.pos).toBe(P);
    }
    // Strongest first.
    for (let i = 1; i < result.features.length; i++) expect(Math.abs(result.features[i - 1]!.value)).toBeGreaterThanOrEqual(Math.abs(result.features[i]!.value));
  });
});
