/**
 * What an index is keyed by, and small caches so a restart does not redo expensive work:
 *   - the model key: sha256 over the decoder's spec and weight bytes (every canonical tensor in
 *     name order), cached by the weight files' path + size + mtime so gigabytes are hashed once;
 *   - a transcoder set's key (transcoders/feature-index.ts): sha256 over its activation, input hook
 *     and every layer's tensors, cached the same way by its layer files;
 *   - the corpus key (contexts.ts) is a hash of the token stream, which takes seconds to
 *     tokenize: it is cached by the corpus files' path + size + mtime, a fingerprint of the
 *     tokenizer (every token's text and a probe encoding), C and the budget.
 * Both caches live in the index folder as small JSON files replaced atomically.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Decoder, Tensor, Tokenizer } from '../../shared/engine/decoder.js';
import { writeFileAtomic } from './atomic-file.js';
import { CONTEXTS_VERSION } from './contexts.js';

const MAX_CACHE_ENTRIES = 256;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function fileStamp(path: string): { path: string; size: number; mtimeMs: number } {
  const stat = statSync(path);
  return { path, size: stat.size, mtimeMs: stat.mtimeMs };
}

/** A small JSON map in the index folder (a corrupt or missing file is an empty cache). */
class JsonCache<T> {
  constructor(private readonly path: string) {}

  private read(): Record<string, T> {
    try {
      const value = JSON.parse(readFileSync(this.path, 'utf8')) as unknown;
      return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, T>) : {};
    } catch {
      return {};
    }
  }

  get(key: string): T | undefined {
    return this.read()[key];
  }

  set(key: string, value: T): void {
    const entries = Object.entries(this.read()).filter(([k]) => k !== key);
    entries.push([key, value]);
    try {
      writeFileAtomic(this.path, JSON.stringify(Object.fromEntries(entries.slice(-MAX_CACHE_ENTRIES))));
    } catch {
      // a cache that cannot be written only costs time on the next start
    }
  }
}

/** The files a decoder was loaded from (for the cache), or null when it has none (random weights). */
function weightFiles(decoder: Decoder): string[] | null {
  const { source } = decoder;
  if (!existsSync(source)) return null;
  if (!statSync(source).isDirectory()) return [source];
  return readdirSync(source)
    .filter((f) => f.endsWith('.safetensors') || f === 'config.json' || f === 'model.safetensors.index.json')
    .sort().map((f) => join(source, f));
}

/** sha256 of the spec and every weight's name, shape and bytes; pauses between tensors. */
export async function hashWeights(decoder: Decoder, pause?: () => Promise<void>): Promise<string> {
  return hashTensors(decoder.spec, decoder.weights, pause);
}

/** sha256 of `head` (as JSON) and every tensor's name, shape and bytes, in name order. */
export async function hashTensors(head: unknown, tensors: Record<string, Tensor>, pause?: () => Promise<void>): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(head));
  const chunk = 64 << 20;
  for (const name of Object.keys(tensors).sort()) {
    const { shape, data } = tensors[name]!;
    hash.update(`${name}:${shape.join(',')};`);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    for (let at = 0; at < bytes.byteLength; at += chunk) {
      hash.update(bytes.subarray(at, at + chunk));
      if (pause) await pause();
    }
  }
  return hash.digest('hex');
}

/** The model key, from the cache when the weight files are unchanged. */
export async function modelKey(decoder: Decoder, indexDir: string, pause?: () => Promise<void>): Promise<string> {
  return cachedHash(indexDir, weightFiles(decoder), decoder.spec, () => hashWeights(decoder, pause));
}

/** A content hash (`compute`) cached by the files it is read from (path, size, mtime) and `salt`,
 * so it is computed once per change of the files; never cached without files. */
export async function cachedHash(indexDir: string, files: string[] | null, salt: unknown, compute: () => Promise<string>): Promise<string> {
  const cache = new JsonCache<string>(join(indexDir, 'weights-hashes.json'));
  const stamp = files ? sha256(JSON.stringify({ spec: salt, files: files.map(fileStamp) })) : null;
  const cached = stamp ? cache.get(stamp) : undefined;
  if (cached) return cached;
  const key = await compute();
  if (stamp) cache.set(stamp, key);
  return key;
}

const PROBE = 'The quick brown fox, 1961: "Don\'t!" — naïve café 日本語 🙂\n\n  indented\tline.';

/** Identifies a tokenizer by what it does: every token's text, BOS/EOS and a probe encoding. */
export function tokenizerFingerprint(tokenizer: Tokenizer): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ vocabSize: tokenizer.vocabSize, bos: tokenizer.bosId, eos: tokenizer.eosId }));
  for (let id = 0; id < tokenizer.vocabSize; id++) hash.update(`${tokenizer.tokenString(id)}\u0000`);
  try {
    hash.update(tokenizer.encode(PROBE).join(','));
  } catch {
    hash.update('cannot encode');
  }
  return hash.digest('hex');
}

export interface CachedCorpus {
  key: string;
  count: number;
  name: string;
}

/** Remembers corpus keys by everything that determines the token stream. */
export class CorpusKeyCache {
  private readonly cache: JsonCache<CachedCorpus>;
  constructor(indexDir: string) {
    this.cache = new JsonCache<CachedCorpus>(join(indexDir, 'corpus-keys.json'));
  }

  /** The cache key for a corpus read from `files` with this tokenizer, C and budget. */
  static stamp(files: string[], tokenizer: string, contextLength: number, budget: number): string {
    return sha256(JSON.stringify({ version: CONTEXTS_VERSION, files: files.map(fileStamp), tokenizer, contextLength, budget }));
  }

  get(stamp: string): CachedCorpus | undefined {
    return this.cache.get(stamp);
  }

  set(stamp: string, value: CachedCorpus): void {
    this.cache.set(stamp, value);
  }
}
