/**
 * Finds and opens the right tokenizer for a path: a `tokenizer.json`, a directory holding
 * `tokenizer.json` or `vocab.json` + `merges.txt`, or a llama2.c tokenizer `.bin`.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ModelError, type Tokenizer } from '../../../shared/engine/decoder.js';
import { HfTokenizer, type HfTokenizerOptions } from '../../../shared/engine/tokenizers/hf.js';
import { readLlama2cTokenizer } from './llama2c.js';
import { folderFiles } from '../files.js';

/** The tokenizer files in `dir`, or null when it holds none. */
export function tokenizerInDirectory(dir: string, options: HfTokenizerOptions = {}): Tokenizer | null {
  if (existsSync(join(dir, 'tokenizer.json'))) return HfTokenizer.fromTokenizerJson(folderFiles(dir), 'tokenizer.json', options);
  if (existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'merges.txt'))) return HfTokenizer.fromVocabAndMerges(folderFiles(dir), options);
  if (existsSync(join(dir, 'tokenizer.bin'))) return readLlama2cTokenizer(join(dir, 'tokenizer.bin'));
  return null;
}

/** Opens the tokenizer a user named (the CLI's --tokenizer). */
export function openTokenizer(path: string, options: HfTokenizerOptions = {}): Tokenizer {
  if (!existsSync(path)) throw new ModelError(`Tokenizer path not found: ${path}`);
  if (statSync(path).isDirectory()) {
    const found = tokenizerInDirectory(path, options);
    if (!found) throw new ModelError(`${path}: no tokenizer found (looked for tokenizer.json, vocab.json + merges.txt, tokenizer.bin)`);
    return found;
  }
  const name = basename(path);
  if (name === 'vocab.json' || name === 'merges.txt') return HfTokenizer.fromVocabAndMerges(folderFiles(dirname(path)), options);
  if (name.endsWith('.json')) return HfTokenizer.fromTokenizerJson(folderFiles(dirname(path)), basename(path), options);
  if (name.endsWith('.bin')) return readLlama2cTokenizer(path);
  throw new ModelError(`${path}: unknown tokenizer format (give a tokenizer.json, a vocab.json beside merges.txt, a llama2.c tokenizer .bin, or a directory holding one)`);
}
