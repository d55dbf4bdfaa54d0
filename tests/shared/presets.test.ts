/**
 * The example questions (shared/presets.ts) on the bundled model brown-gpt2, with its real
 * tokenizer and engine: every target and distractor adds exactly one token after its prompt
 * (so no example opens on a "several tokens" warning, tokenized the way the server resolves the
 * question: prompt + answer), and the model really prefers the target (Δ > 0 at the last position).
 * The bundled model is part of the repository, so a missing one is a failure, not a skip.
 */
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../server/engine/load.js';
import { ModelRunner } from '../../shared/engine/runner.js';
import { defaultPreset, presets } from '../../shared/presets.js';

const dir = fileURLToPath(new URL('../../assets/models/brown-gpt2/', import.meta.url));
let model: Awaited<ReturnType<typeof loadModel>>;
let runner: ModelRunner;

beforeAll(async () => {
  model = await loadModel(dir);
  runner = await ModelRunner.create(model.decoder);
});

/** The tokens `answer` adds after `prompt`, or null when the prompt's own tokens change. */
function added(prompt: string, answer: string): number[] | null {
  const base = model.tokenizer.encode(prompt);
  const full = model.tokenizer.encode(prompt + answer);
  if (!base.every((id, i) => full[i] === id)) return null;
  return full.slice(base.length);
}

describe('presets on the bundled model', () => {
  it('has a few, with distinct ids, and the default is one of them', () => {
    expect(presets.length).toBeGreaterThanOrEqual(3);
    expect(new Set(presets.map((p) => p.id)).size).toBe(presets.length);
    expect(presets).toContain(defaultPreset);
  });

  for (const preset of presets) {
    it(`${preset.id}: target and distractor are single tokens and the model prefers the target`, async () => {
      const target = added(preset.prompt, preset.target);
      const distractor = added(preset.prompt, preset.distractor);
      expect(target, `target ${JSON.stringify(preset.target)}`).toHaveLength(1);
      expect(distractor, `distractor ${JSON.stringify(preset.distractor)}`).toHaveLength(1);
      expect(target![0]).not.toBe(distractor![0]);
      const ids = model.tokenizer.encode(preset.prompt);
      expect(ids.length).toBeLessThanOrEqual(model.decoder.spec.contextLength);
      const { logits } = await runner.run([ids]);
      const vocab = model.decoder.spec.vocabSize;
      const last = logits.data.subarray(logits.data.length - vocab);
      expect(last[target![0]!]! - last[distractor![0]!]!).toBeGreaterThan(0);
    });
  }
});
