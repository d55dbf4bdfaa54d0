/**
 * Acceptance 1 of the engine on a real pretrained model: Karpathy's stories260K (llama2.c
 * format, from ../shared/fixtures). Greedy decoding from BOS reproduces the known text
 * exactly, logits agree with the plain-loop llama2.c reference, and the hook invariants hold.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { needSharedFixtures, stories260K } from '../../helpers/shared-fixtures.js';
import { loadModel } from '../../../server/engine/load.js';
import { ModelRunner } from '../../../shared/engine/runner.js';
import { generate } from '../../../shared/engine/generate.js';
import { hookName } from '../../../shared/engine/hooks.js';
import { llama2cLogits, readLlama2c } from '../../reference/llama2c.js';
import { maxAbsDiff } from '../../helpers/compare.js';

const fixtures = stories260K;
const present = needSharedFixtures('the stories260K tests', `${fixtures}stories260K.bin`, `${fixtures}tok512.bin`, `${fixtures}expected-greedy.txt`);

describe.skipIf(!present)('stories260K (llama2.c checkpoint)', () => {
  const open = async () => {
    const model = await loadModel(`${fixtures}stories260K.bin`, { tokenizerPath: `${fixtures}tok512.bin` });
    return { model, runner: await ModelRunner.create(model.decoder) };
  };

  it('greedy decoding from BOS for 256 positions reproduces expected-greedy.txt exactly', async () => {
    const { model, runner } = await open();
    const bos = model.tokenizer.bosId!;
    expect(bos).toBe(1);
    // llama2.c's `run -n 256` runs 256 positions (BOS at 0), so samples 256 tokens, and ends
    // its output with a newline.
    const { tokens } = await generate(runner, [bos], { maxTokens: 256, temperature: 0, stopToken: bos });
    const text = model.tokenizer.decode([bos, ...tokens]);
    expect(`${text}\n`).toBe(readFileSync(`${fixtures}expected-greedy.txt`, 'utf8'));
  });

  it('logits agree with the independent llama2.c reference', async () => {
    const { model, runner } = await open();
    const ids = model.tokenizer.encode('Once upon a time, there was a big dog');
    const { logits } = await runner.run([ids]);
    const expected = llama2cLogits(readLlama2c(`${fixtures}stories260K.bin`), ids);
    expect(maxAbsDiff(logits.data, expected)).toBeLessThanOrEqual(1e-4);
  });

  it('satisfies the hook invariants', async () => {
    const { model, runner } = await open();
    const ids = model.tokenizer.encode('Lily saw a cat');
    const spec = model.decoder.spec;
    const hooks = Array.from({ length: spec.nLayers }, (_, l) => [hookName.residPre(l), hookName.attnOut(l),
      hookName.residMid(l), hookName.mlpOut(l), hookName.residPost(l), hookName.pattern(l)]).flat();
    const { cache } = await runner.run([ids], { hooks });
    const T = ids.length;
    for (let l = 0; l < spec.nLayers; l++) {
      const pre = cache[hookName.residPre(l)]!.data, attn = cache[hookName.attnOut(l)]!.data, mid = cache[hookName.residMid(l)]!.data;
      const mlp = cache[hookName.mlpOut(l)]!.data, post = cache[hookName.residPost(l)]!.data;
      for (let i = 0; i < mid.length; i++) {
        expect(Math.abs(pre[i]! + attn[i]! - mid[i]!)).toBeLessThan(1e-5);
        expect(Math.abs(mid[i]! + mlp[i]! - post[i]!)).toBeLessThan(1e-5);
      }
      const pattern = cache[hookName.pattern(l)]!.data;
      for (let row = 0; row < spec.nHeads * T; row++) {
        const q = row % T;
        let sum = 0;
        for (let k = 0; k < T; k++) {
          if (k > q) expect(pattern[row * T + k]).toBe(0);
          sum += pattern[row * T + k]!;
        }
        expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
      }
    }
  });
});
