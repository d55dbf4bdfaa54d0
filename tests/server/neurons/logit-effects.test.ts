/**
 * Logit effects against a direct computation from the checkpoint's own tensors (read with the
 * test helpers' safetensors reader, Hugging Face names and orientations, plain float64 loops):
 *   GPT-2 (LayerNorm): effect[v] = Σ_j (c_proj[i, j] − mean_j c_proj[i, :]) · ln_f.w[j] · wte[v, j]
 *   Llama (RMSNorm):   effect[v] = Σ_j down_proj[j, i] · norm.w[j] · lm_head[v, j]
 * for the plain loops, the bulk ONNX path the indexer uses, and what the server answers before an
 * index exists (one neuron at a time on ONNX Runtime, the unembedding fed as an input).
 */
import { describe, expect, it } from 'vitest';
import type { LoadedModel } from '../../../shared/engine/decoder.js';
import { loadModel } from '../../../server/engine/load.js';
import { BulkLogitEffects, foldedRow, logitEffectsOf, type TokenEffects } from '../../../server/neurons/logit-effects.js';
import { NeuronIndex } from '../../../server/neurons/service.js';
import { readHfCheckpoint } from '../../helpers/safetensors.js';
import { writeRandomLlama } from '../../helpers/random-checkpoint.js';
import { bundledModel, tempDir } from './fixtures.js';

/** Top and bottom 10 of effect[0..V) (ties: lower id first). */
function extremes(effect: Float64Array): { top: number[]; bottom: number[] } {
  const ids = Array.from(effect.keys());
  const top = [...ids].sort((a, b) => effect[b]! - effect[a]! || a - b).slice(0, 10);
  const bottom = [...ids].sort((a, b) => effect[a]! - effect[b]! || a - b).slice(0, 10);
  return { top, bottom };
}

function expectEffects(got: TokenEffects, effect: Float64Array, where: string): void {
  const { top, bottom } = extremes(effect);
  const scale = Math.max(...Array.from(effect, Math.abs));
  const check = (list: TokenEffects['promoted'], expected: number[], side: string) => {
    expect(list).toHaveLength(10);
    list.forEach((e, r) => {
      const at = `${where} ${side} rank ${r}: token ${e.token} ${e.value}, expected ${expected[r]} ${effect[expected[r]!]}`;
      expect(Math.abs(e.value - effect[expected[r]!]!), at).toBeLessThanOrEqual(1e-5 * scale);
      // The stored value is that token's own effect; a different token only where values tie.
      expect(Math.abs(e.value - effect[e.token]!), at).toBeLessThanOrEqual(1e-5 * scale);
    });
  };
  check(got.promoted, top, 'promoted');
  check(got.suppressed, bottom, 'suppressed');
}

async function checkModel(model: LoadedModel, direct: (layer: number, index: number) => Float64Array, picks: [number, number][]) {
  const { decoder } = model;
  const { vocabSize } = model.tokenizer;
  const bulk = await BulkLogitEffects.create(decoder, vocabSize);
  const d = decoder.spec.dModel;
  const rows = new Float32Array(picks.length * d);
  picks.forEach(([l, i], r) => foldedRow(decoder, l, i, rows.subarray(r * d, (r + 1) * d)));
  const batched = await bulk.compute(rows, picks.length, d);
  await bulk.dispose();
  const server = new NeuronIndex(model, { indexDir: tempDir('effects-index') }); // no index: effects on demand
  const answered = await Promise.all(picks.map(([l, i]) => server.detailsAsync(l, i)));
  await server.dispose();
  picks.forEach(([l, i], r) => {
    const effect = direct(l, i);
    expectEffects(logitEffectsOf(decoder, vocabSize, l, i), effect, `plain loops ${l}/${i}`);
    expectEffects(batched[r]!, effect, `bulk ${l}/${i}`);
    const { promoted, suppressed } = answered[r]!;
    const asEffects = (list: typeof promoted) => list.map((e) => ({ token: e.token.id, value: e.value }));
    expect(answered[r]!.indexed).toBeNull();
    expectEffects({ promoted: asEffects(promoted), suppressed: asEffects(suppressed) }, effect, `server ${l}/${i}`);
  });
}

describe('logit effects', () => {
  it('match W_out · (LayerNorm γ folded, centred) · W_U for the bundled GPT-2', async () => {
    const model = await loadModel(bundledModel);
    const { tensors, config } = readHfCheckpoint(bundledModel);
    const d = config.n_embd as number;
    const V = config.vocab_size as number;
    const gamma = tensors['transformer.ln_f.weight']!.data; // [d]
    const wte = tensors['transformer.wte.weight']!.data; // [V, d] (tied unembedding)
    const direct = (layer: number, index: number) => {
      const cProj = tensors[`transformer.h.${layer}.mlp.c_proj.weight`]!.data; // [d_mlp, d] (Conv1D: [in, out])
      let mean = 0;
      for (let j = 0; j < d; j++) mean += cProj[index * d + j]!;
      mean /= d;
      const effect = new Float64Array(V);
      for (let v = 0; v < V; v++) {
        let sum = 0;
        for (let j = 0; j < d; j++) sum += (cProj[index * d + j]! - mean) * gamma[j]! * wte[v * d + j]!;
        effect[v] = sum;
      }
      return effect;
    };
    await checkModel(model, direct, [[0, 0], [1, 517], [2, 77], [3, 1023]]);
  });

  it('match W_out · (RMSNorm γ folded) · W_U for a random Llama', async () => {
    const { dir, tensors, config } = writeRandomLlama(tempDir('llama-effects'), { numLayers: 2, hiddenSize: 32, intermediateSize: 56, vocabSize: 103 });
    const model = await loadModel(dir);
    const d = config.hidden_size;
    const dMlp = config.intermediate_size;
    const V = config.vocab_size;
    const gamma = tensors['model.norm.weight']!.data; // [d]
    const lmHead = tensors['lm_head.weight']!.data; // [V, d]
    const direct = (layer: number, index: number) => {
      const down = tensors[`model.layers.${layer}.mlp.down_proj.weight`]!.data; // [d, d_mlp] (nn.Linear: [out, in])
      const effect = new Float64Array(V);
      for (let v = 0; v < V; v++) {
        let sum = 0;
        for (let j = 0; j < d; j++) sum += down[j * dMlp + index]! * gamma[j]! * lmHead[v * d + j]!;
        effect[v] = sum;
      }
      return effect;
    };
    await checkModel(model, direct, [[0, 0], [0, 31], [1, 5], [1, 55]]);
  });
});
