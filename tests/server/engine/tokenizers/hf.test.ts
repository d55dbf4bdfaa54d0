/**
 * Hugging Face tokenizers through @huggingface/tokenizers: GPT-2 style vocab.json + merges.txt
 * (converted to tokenizer.json in memory), the built-in GPT-2 BPE, and openTokenizer's dispatch.
 * Byte-level BPE maps bytes to printable characters: space → "Ġ", newline → "Ċ".
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { folderFiles } from '../../../../server/engine/files.js';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../loaders/temp-dir.js';
import { ModelError } from '../../../../shared/engine/decoder.js';
import { Gpt2BuiltinTokenizer } from '../../../../shared/engine/tokenizers/gpt2-builtin.js';
import { HfTokenizer } from '../../../../shared/engine/tokenizers/hf.js';
import { openTokenizer } from '../../../../server/engine/tokenizers/open.js';

/** ids: 0 h, 1 e, 2 l, 3 o, 4 Ġ, 5 w, 6 r, 7 d, 8 he, 9 ll, 10 hell, 11 hello, 12 Ġw, 13 or,
 *  14 Ġwor, 15 Ġworl, 16 Ġworld, 17 ",", 18 Ċ, 19 <|endoftext|> */
const pieces = ['h', 'e', 'l', 'o', 'Ġ', 'w', 'r', 'd', 'he', 'll', 'hell', 'hello', 'Ġw', 'or', 'Ġwor', 'Ġworl', 'Ġworld', ',', 'Ċ', '<|endoftext|>'];
const merges = ['h e', 'l l', 'he ll', 'hell o', 'Ġ w', 'o r', 'Ġw or', 'Ġwor l', 'Ġworl d'];

function writeBpeDir(tokenizerConfig?: object): string {
  const dir = tempDir('bpe-');
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(Object.fromEntries(pieces.map((p, i) => [p, i]))));
  writeFileSync(join(dir, 'merges.txt'), `#version: 0.2\n${merges.join('\n')}\n`);
  if (tokenizerConfig) writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
  return dir;
}

describe('vocab.json + merges.txt (byte-level BPE)', () => {
  it('applies the merges in rank order, per pre-tokenized word', () => {
    const t = HfTokenizer.fromVocabAndMerges(folderFiles(writeBpeDir()));
    // "hello" → h e l l o → "he"(rank 0) "ll"(1) → "hell"(2) → "hello"(3).
    // " world" → Ġ w o r l d → "Ġw"(4) "or"(5) → "Ġwor"(6) → "Ġworl"(7) → "Ġworld"(8).
    expect(t.encode('hello world')).toEqual([11, 16]);
    // "hello,\n": the regex splits "hello" | "," | "\n" → [11, 17, 18].
    expect(t.encode('hello,\n')).toEqual([11, 17, 18]);
    expect(t.encode('hello<|endoftext|>hello')).toEqual([11, 19, 11]); // special token recognised
    expect(t.vocabSize).toBe(20);
    expect(t.bosId).toBeNull();
  });

  it('decodes faithfully (no " ," clean-up) and drops special tokens', () => {
    const t = HfTokenizer.fromVocabAndMerges(folderFiles(writeBpeDir()));
    expect(t.decode([11, 16, 18])).toBe('hello world\n');
    expect(t.decode([11, 4, 17])).toBe('hello ,'); // kept as generated
    expect(t.decode([11, 19])).toBe('hello');
    expect(t.decode([])).toBe('');
  });

  it('prints tokens readably: "Ġworld" → " world", "Ċ" → "\\n", specials literally', () => {
    const t = HfTokenizer.fromVocabAndMerges(folderFiles(writeBpeDir()));
    expect([16, 18, 19].map((id) => t.tokenString(id))).toEqual([' world', '\n', '<|endoftext|>']);
  });

  it('takes BOS/EOS from tokenizer_config.json, or EOS from the model config', () => {
    const withBos = HfTokenizer.fromVocabAndMerges(folderFiles(writeBpeDir({ bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', add_bos_token: true })));
    expect(withBos.encode('hello')).toEqual([19, 11]);
    expect(withBos.eosId).toBe(19);
    const fromModel = HfTokenizer.fromVocabAndMerges(folderFiles(writeBpeDir()), { modelConfig: { eos_token_id: 19 } });
    expect([fromModel.bosId, fromModel.eosId]).toEqual([null, 19]);
  });
});

describe('built-in GPT-2 BPE', () => {
  it('encodes and decodes as GPT-2 does', () => {
    const t = new Gpt2BuiltinTokenizer();
    // Known GPT-2 ids: "Hello" 15496, "," 11, " world" 995, "!" 0, " The" 383.
    expect(t.encode('Hello, world!')).toEqual([15496, 11, 995, 0]);
    expect(t.encode('<|endoftext|> The')).toEqual([50256, 383]);
    expect(t.decode([15496, 11, 995, 0, 50256])).toBe('Hello, world!');
    expect(t.tokenString(383)).toBe(' The');
  });
});

describe('openTokenizer', () => {
  it('opens a directory, a vocab.json, or a tokenizer.json', () => {
    const dir = writeBpeDir();
    expect(openTokenizer(dir).encode('hello')).toEqual([11]);
    expect(openTokenizer(join(dir, 'vocab.json')).encode('hello')).toEqual([11]);
    const json = join(dir, 'my-tokenizer.json');
    writeFileSync(json, JSON.stringify({
      version: '1.0', added_tokens: [], normalizer: null, pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: null, decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: { type: 'BPE', vocab: Object.fromEntries(pieces.map((p, i) => [p, i])), merges, dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false },
    }));
    expect(openTokenizer(json).encode('hello world')).toEqual([11, 16]);
  });

  it('gives clear errors for missing, empty and unknown tokenizer paths', () => {
    expect(() => openTokenizer('/nonexistent/tokenizer.json')).toThrow(ModelError);
    expect(() => openTokenizer('/nonexistent/tokenizer.json')).toThrow('Tokenizer path not found: /nonexistent/tokenizer.json');
    const empty = tempDir('empty-');
    expect(() => openTokenizer(empty)).toThrow(/no tokenizer found \(looked for tokenizer.json, vocab.json \+ merges.txt, tokenizer.bin\)/);
    writeFileSync(join(empty, 'spm.model'), 'x');
    expect(() => openTokenizer(join(empty, 'spm.model'))).toThrow(/unknown tokenizer format/);
    writeFileSync(join(empty, 'broken.json'), '{');
    expect(() => openTokenizer(join(empty, 'broken.json'))).toThrow(/broken.json: not valid JSON/);
  });
});
