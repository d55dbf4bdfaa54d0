/**
 * The bundled default model (assets/models/brown-gpt2), loaded through the normal GPT-2 path:
 * the engine reproduces PyTorch's golden outputs, its tokenizer round-trips arbitrary Unicode,
 * and the hook invariants hold.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../../server/engine/load.js';
import { readSafetensors } from '../../../server/engine/safetensors.js';
import { ModelRunner } from '../../../shared/engine/runner.js';
import { allHookNames, hookName } from '../../../shared/engine/hooks.js';
import { seededRandom } from '../../../shared/engine/generate.js';
import { maxAbsDiff } from '../../helpers/compare.js';

const dir = fileURLToPath(new URL('../../../assets/models/brown-gpt2/', import.meta.url));

describe('bundled model brown-gpt2', () => {
  it('matches the PyTorch golden file: logits and hooks within 1e-4', async () => {
    const golden = JSON.parse(readFileSync(`${dir}golden.json`, 'utf8')) as { tokens: number[][]; hooks: string[] };
    const tensors = readSafetensors(`${dir}golden.safetensors`);
    const model = await loadModel(dir);
    const runner = await ModelRunner.create(model.decoder);
    const L = model.decoder.spec.nLayers;
    expect(golden.hooks).toEqual(['blocks.0.mlp.hook_post', `blocks.${L - 1}.attn.hook_pattern`, `blocks.${L - 1}.hook_resid_post`]);
    expect(golden.tokens).toHaveLength(3);
    for (const [k, ids] of golden.tokens.entries()) {
      const { logits, cache } = await runner.run([ids], { hooks: golden.hooks });
      const checks: [string, Float32Array, Float32Array][] = [
        ['logits', logits.data, tensors[`p${k}.logits`]!.data],
        ['blocks.0.mlp.hook_post', cache['blocks.0.mlp.hook_post']!.data, tensors[`p${k}.blocks.0.mlp.hook_post`]!.data],
        [`blocks.${L - 1}.attn.hook_pattern`, cache[`blocks.${L - 1}.attn.hook_pattern`]!.data, tensors[`p${k}.blocks.${L - 1}.attn.hook_pattern`]!.data],
        ['hook_resid_post', cache[`blocks.${L - 1}.hook_resid_post`]!.data, tensors[`p${k}.hook_resid_post`]!.data],
      ];
      for (const [name, ours, theirs] of checks) {
        const diff = maxAbsDiff(ours, theirs);
        expect(diff, `prompt ${k} ${name}: max abs difference ${diff}`).toBeLessThanOrEqual(1e-4);
      }
    }
    // The golden file is not trivially satisfied: its logits vary across the vocabulary.
    const first = tensors['p0.logits']!.data;
    expect(Math.max(...first.subarray(0, 4096)) - Math.min(...first.subarray(0, 4096))).toBeGreaterThan(5);
  });

  it('round-trips arbitrary Unicode text through its tokenizer', async () => {
    const { tokenizer } = await loadModel(dir);
    const random = seededRandom(77);
    const ranges = [[0x20, 0x7e], [0xa0, 0x24f], [0x370, 0x3ff], [0x400, 0x4ff], [0x590, 0x6ff], [0x3040, 0x30ff], [0x4e00, 0x9fff], [0x1f300, 0x1faff], [0x9, 0xd]];
    const samples = ['Héllo wörld — naïve café ☕', '日本語のテキストと English mixed', '👩‍👩‍👧‍👦 family, 🇫🇷 flag', '\n\n\t  spaces  \r\n', "It's 3.14 o'clock!", ''];
    for (let s = 0; s < 200; s++) {
      const length = 1 + Math.floor(random() * 40);
      let text = '';
      for (let i = 0; i < length; i++) {
        const [lo, hi] = ranges[Math.floor(random() * ranges.length)]!;
        text += String.fromCodePoint(lo! + Math.floor(random() * (hi! - lo! + 1)));
      }
      samples.push(text);
    }
    for (const text of samples) {
      const ids = tokenizer.encode(text);
      expect(ids.every((id) => id >= 0 && id < tokenizer.vocabSize)).toBe(true);
      expect(tokenizer.decode(ids)).toBe(text);
    }
  });

  it('satisfies the hook invariants', async () => {
    const model = await loadModel(dir);
    const runner = await ModelRunner.create(model.decoder);
    const ids = model.tokenizer.encode('The jury said that the election was');
    const { cache } = await runner.run([ids], { hooks: allHookNames(model.decoder.spec) });
    const { nLayers, nHeads, dMlp, dModel: d } = model.decoder.spec;
    const T = ids.length;
    for (let l = 0; l < nLayers; l++) {
      const pre = cache[hookName.residPre(l)]!.data, attn = cache[hookName.attnOut(l)]!.data, mid = cache[hookName.residMid(l)]!.data;
      const out = cache[hookName.mlpOut(l)]!.data, post = cache[hookName.residPost(l)]!.data;
      for (let i = 0; i < mid.length; i++) {
        expect(Math.abs(pre[i]! + attn[i]! - mid[i]!)).toBeLessThan(1e-4);
        expect(Math.abs(mid[i]! + out[i]! - post[i]!)).toBeLessThan(1e-4);
      }
      const pattern = cache[hookName.pattern(l)]!.data;
      for (let row = 0; row < nHeads * T; row++) {
        let sum = 0;
        for (let k = 0; k < T; k++) {
          if (k > row % T) expect(pattern[row * T + k]).toBe(0);
          sum += pattern[row * T + k]!;
        }
        expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
      }
      const act = cache[hookName.mlpPost(l)]!.data;
      const W_out = model.decoder.weights[`blocks.${l}.mlp.W_out`]!.data;
      const b_out = model.decoder.weights[`blocks.${l}.mlp.b_out`]!.data;
      for (let t = 0; t < T; t += 3) {
        for (let j = 0; j < d; j += 7) {
          let acc = b_out[j]!;
          for (let i = 0; i < dMlp; i++) acc += act[t * dMlp + i]! * W_out[i * d + j]!;
          expect(Math.abs(acc - out[t * d + j]!)).toBeLessThan(1e-4);
        }
      }
    }
  });
});
