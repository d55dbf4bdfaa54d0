/**
 * Tokenizes the corpus documents (tools/train/prepare-corpus.ts's train.jsonl / val.jsonl) with the
 * SHIPPED tokenizer (assets/models/brown-gpt2/tokenizer.json), so transcoder training reads the very
 * token streams the model was trained on without re-training the tokenizer (which would rewrite the
 * asset). Writes {train,val}.u16 (documents separated by <|endoftext|>) next to the documents.
 *
 * Run: npx tsx tools/train/transcoders/tokenize-corpus.ts --work DIR
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';

const root = new URL('../../../', import.meta.url).pathname;
const flag = process.argv.indexOf('--work');
const work = flag > 0 && process.argv[flag + 1] ? resolve(process.argv[flag + 1]!) : join(root, '.cache/transcoders');
const modelDir = join(root, 'assets/models/brown-gpt2');
const tokenizerJson = JSON.parse(readFileSync(join(modelDir, 'tokenizer.json'), 'utf8'));
const tokenizerConfig = JSON.parse(readFileSync(join(modelDir, 'tokenizer_config.json'), 'utf8'));
const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
const eot = tokenizerJson.added_tokens.find((t: { content: string }) => t.content === '<|endoftext|>').id as number;

for (const name of ['train', 'val']) {
  const docs = readFileSync(join(work, `${name}.jsonl`), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as string);
  const ids: number[] = [];
  for (const doc of docs) {
    for (const id of tokenizer.encode(doc, { add_special_tokens: false }).ids) ids.push(id);
    ids.push(eot);
  }
  writeFileSync(join(work, `${name}.u16`), Uint16Array.from(ids));
  console.log(`${name}: ${docs.length} documents, ${ids.length} tokens`);
}
