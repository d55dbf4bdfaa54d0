/**
 * The transcoder input rebuilt from an engine run (resid_mid and ln2's scale, with γ and β) is
 * the MLP's actual input: pushed through the MLP's own weights in float64 here, it reproduces
 * `hook_mlp_out` of the same run. Checked on the bundled model.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../../server/engine/load.js';
import { ModelRunner } from '../../../shared/engine/runner.js';
import { transcoderHooks, transcoderInput, transcoderTarget } from '../../../shared/transcoders/inputs.js';
import { maxAbsDiff } from '../../helpers/compare.js';

const modelDir = fileURLToPath(new URL('../../../assets/models/brown-gpt2/', import.meta.url));

describe('transcoder inputs from an engine run', () => {
  it('ln2.hook_normalized fed through the MLP gives hook_mlp_out (≤ 1e-4)', async () => {
    const { decoder, tokenizer } = await loadModel(modelDir);
    const runner = await ModelRunner.create(decoder);
    try {
      const ids = tokenizer.encode('The committee said that the plan would be ready by Friday, and the mayor agreed.');
      const { nLayers: L, dModel: d, dMlp } = decoder.spec;
      const hooks = Array.from({ length: L }, (_, l) => transcoderHooks('ln2.hook_normalized', l)).flat();
      const { cache } = await runner.run([ids], { hooks });
      const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
      for (let l = 0; l < L; l++) {
        const x = transcoderInput('ln2.hook_normalized', decoder, cache, l);
        const y = transcoderTarget(decoder, cache, l);
        const W_in = decoder.weights[`blocks.${l}.mlp.W_in`]!.data; // [d, d_mlp]
        const b_in = decoder.weights[`blocks.${l}.mlp.b_in`]!.data;
        const W_out = decoder.weights[`blocks.${l}.mlp.W_out`]!.data; // [d_mlp, d]
        const b_out = decoder.weights[`blocks.${l}.mlp.b_out`]!.data;
        const ours = new Float64Array(y.data.length);
        for (let t = 0; t < ids.length; t++) {
          const post = new Float64Array(dMlp);
          for (let j = 0; j < dMlp; j++) {
            let s = b_in[j]!;
            for (let i = 0; i < d; i++) s += x.data[t * d + i]! * W_in[i * dMlp + j]!;
            post[j] = gelu(s);
          }
          for (let o = 0; o < d; o++) {
            let s = b_out[o]!;
            for (let j = 0; j < dMlp; j++) s += post[j]! * W_out[j * d + o]!;
            ours[t * d + o] = s;
          }
        }
        const diff = maxAbsDiff(ours, y.data);
        expect(diff, `layer ${l}: max abs difference ${diff}`).toBeLessThanOrEqual(1e-4);
        // resid_mid itself would not do: the normalisation matters.
        expect(maxAbsDiff(x.data, cache[`blocks.${l}.hook_resid_mid`]!.data)).toBeGreaterThan(0.1);
      }
    } finally {
      await runner.dispose();
    }
  });
});
