/**
 * The analysis context compiles Explain's and Trace's backward graphs ahead of use (`warm`, which
 * `npm start` calls at start), keeps them, and tries again after a failed compile instead of
 * answering every later analysis with the old failure.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LoadedModel, Tokenizer } from '../../../shared/engine/decoder.js';
import { BackwardRunner } from '../../../shared/engine/backward-runner.js';
import { gpt2Spec, randomDecoder } from '../../../shared/engine/random-decoder.js';
import { ModelRunner } from '../../../shared/engine/runner.js';
import { AnalysisContext } from '../../../shared/analysis/context.js';

const decoder = randomDecoder(gpt2Spec({ nLayers: 2, dModel: 16, nHeads: 2, vocabSize: 23, contextLength: 16 }), 5, 0.3);
const tokenizer = { encode: () => [1], decode: () => '', tokenString: (id: number) => String(id), vocabSize: 23, bosId: null, eosId: null } as unknown as Tokenizer;
const model = { decoder, tokenizer } as LoadedModel;

afterEach(() => vi.restoreAllMocks());

describe('analysis context', () => {
  it('warm() compiles the full and linear backward graphs once; later analyses reuse them', async () => {
    const create = vi.spyOn(BackwardRunner, 'create');
    const context = new AnalysisContext(model, await ModelRunner.create(decoder));
    await context.warm();
    expect(create.mock.calls.map((c) => c[1]).sort()).toEqual(['full', 'linear']);
    const full = await context.backwardRunner('full');
    expect(full.mode).toBe('full');
    expect(await context.backwardRunner('linear')).toBe(await context.backwardRunner('linear'));
    expect(create).toHaveBeenCalledTimes(2);
    await context.dispose();
  });

  it('tries a failed compile again on the next request', async () => {
    const real = BackwardRunner.create.bind(BackwardRunner);
    const create = vi.spyOn(BackwardRunner, 'create').mockRejectedValueOnce(new Error('out of memory (simulated)'))
      .mockImplementation((d, mode, settings) => real(d, mode, settings));
    const context = new AnalysisContext(model, await ModelRunner.create(decoder));
    await expect(context.warm()).rejects.toThrow(/out of memory/);
    const full = await context.backwardRunner('full');
    expect(full.mode).toBe('full');
    expect(create).toHaveBeenCalledTimes(2);
    await context.dispose();
  });
});
