/**
 * `--corpus` readers: a JSONL file is read line by line in chunks (documents cut across chunk
 * boundaries and multi-byte characters split between chunks come back whole), blank lines are
 * skipped, errors name the line, and a reader that stops early has not needed the rest.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { corpusFromPath } from '../../../server/neurons/corpus.js';
import { tempDir } from './fixtures.js';

describe('corpus files', () => {
  it('reads a JSONL file larger than its read chunk, with characters split between chunks, as written', () => {
    const dir = tempDir('corpus-jsonl');
    // ~3 MiB of documents made of 1-, 2-, 3- and 4-byte characters, so chunk edges fall inside them.
    const documents = Array.from({ length: 3000 }, (_, i) => `${i} ${'aé€😀'.repeat(90 + (i % 17))}`);
    const path = join(dir, 'c.jsonl');
    writeFileSync(path, documents.map((text, i) => (i % 2 ? JSON.stringify(text) : JSON.stringify({ text }))).join('\n\n'));
    expect([...corpusFromPath(path).documents()]).toEqual(documents);
  });

  it('names the line of a malformed document, and an empty file', () => {
    const dir = tempDir('corpus-bad');
    const path = join(dir, 'bad.jsonl');
    writeFileSync(path, '"one"\n\n{"text": "two"}\n{"title": "no text"}\n');
    expect(() => [...corpusFromPath(path).documents()]).toThrow(/bad\.jsonl:4: expected a JSON string or an object with a "text" string/);
    const empty = join(dir, 'empty.jsonl');
    writeFileSync(empty, '\n\n');
    expect(() => [...corpusFromPath(empty).documents()]).toThrow(/empty\.jsonl: no documents/);
  });

  it('stops reading where its reader stops: a malformed line after that point is never reached', () => {
    const dir = tempDir('corpus-early');
    const path = join(dir, 'early.jsonl');
    writeFileSync(path, `${Array.from({ length: 10 }, (_, i) => JSON.stringify(`doc ${i}`)).join('\n')}\nnot json\n`);
    const first: string[] = [];
    for (const document of corpusFromPath(path).documents()) {
      first.push(document);
      if (first.length === 3) break;
    }
    expect(first).toEqual(['doc 0', 'doc 1', 'doc 2']);
  });

  it('reads a folder of .txt files in name order', () => {
    const dir = tempDir('corpus-folder');
    writeFileSync(join(dir, 'b.txt'), 'second');
    writeFileSync(join(dir, 'a.txt'), 'first');
    writeFileSync(join(dir, 'notes.md'), 'ignored');
    const corpus = corpusFromPath(dir);
    expect(corpus.name).toMatch(/\(2 \.txt files\)$/);
    expect([...corpus.documents()]).toEqual(['first', 'second']);
  });
});
