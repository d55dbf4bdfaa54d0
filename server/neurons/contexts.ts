/**
 * Documents → the fixed contexts an index runs the model over. Each document is tokenized with
 * the model's tokenizer (its own BOS dropped), followed by the tokenizer's EOS where it has one
 * (the document separator GPT-2 trains with), and the stream is cut into contexts of C tokens,
 * C = min(64, n_ctx). When the tokenizer prepends BOS (llama2.c, Llama) each context starts with
 * BOS and holds C − 1 stream tokens; that first position is never scored (its activations are
 * an attention sink's, not the text's). The budget caps contexts × C. Deterministic.
 *
 * Legend: n contexts, C positions per context.
 */
import { createHash } from 'node:crypto';
import { ModelError, type DecoderSpec, type Tokenizer } from '../../shared/engine/decoder.js';
import type { CorpusDocuments } from './corpus.js';

export const DEFAULT_CONTEXT_LENGTH = 64;
export const DEFAULT_TOKEN_BUDGET = 1_000_000;
/** Bumped whenever the way contexts are cut changes (it is part of the corpus key). */
export const CONTEXTS_VERSION = 1;

export interface CorpusContexts {
  /** For people: the corpus name and how many tokens were used. */
  name: string;
  /** C. */
  contextLength: number;
  /** n. */
  count: number;
  /** [n, C] token ids. */
  tokens: Uint32Array;
  /** First scored position of every context: 1 when BOS was prepended, else 0. */
  scoredStart: number;
  /** sha256 (hex) of the contexts version, C, the budget applied and every token id. */
  key: string;
}

export interface ContextOptions {
  /** Tokens to use at most (contexts × C); default 1,000,000. */
  budget?: number;
  contextLength?: number;
  /** Called between documents so a server can keep serving (tokenizing 1M tokens takes seconds). */
  pause?: () => Promise<void>;
}

export function contextLengthFor(spec: DecoderSpec, requested = DEFAULT_CONTEXT_LENGTH): number {
  return Math.min(requested, spec.contextLength);
}

export function corpusKey(contextLength: number, scoredStart: number, tokens: Uint32Array): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ version: CONTEXTS_VERSION, contextLength, scoredStart, tokens: tokens.length }));
  hash.update(new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength));
  return hash.digest('hex');
}

export async function buildContexts(
  corpus: CorpusDocuments, tokenizer: Tokenizer, spec: DecoderSpec, options: ContextOptions = {},
): Promise<CorpusContexts> {
  const C = contextLengthFor(spec, options.contextLength);
  const budget = options.budget ?? DEFAULT_TOKEN_BUDGET;
  const bos = tokenizer.bosId;
  const scoredStart = bos === null ? 0 : 1;
  const perContext = C - scoredStart; // stream tokens per context
  if (perContext < 1) throw new ModelError(`The model's context of ${C} positions leaves no room for text after BOS.`);
  const wanted = Math.floor(budget / C);
  if (wanted < 1) throw new ModelError(`A token budget of ${budget} is less than one context of ${C} tokens.`);
  const needed = wanted * perContext;
  const stream = new Uint32Array(needed);
  let filled = 0;
  let lastPause = performance.now();
  for (const document of corpus.documents()) {
    if (filled >= needed) break;
    let ids = tokenizer.encode(document);
    if (bos !== null && ids[0] === bos) ids = ids.slice(1);
    if (tokenizer.eosId !== null) ids.push(tokenizer.eosId);
    const take = Math.min(ids.length, needed - filled);
    for (let i = 0; i < take; i++) {
      const id = ids[i]!;
      if (id >= spec.vocabSize) throw new ModelError(`The tokenizer gave id ${id}, outside the model's vocabulary of ${spec.vocabSize}.`);
      stream[filled + i] = id;
    }
    filled += take;
    if (options.pause && performance.now() - lastPause > 20) {
      await options.pause();
      lastPause = performance.now();
    }
  }
  const count = Math.floor(filled / perContext);
  if (count === 0) throw new ModelError(`${corpus.name}: the corpus is ${filled} tokens, less than one context of ${perContext} tokens.`);
  const tokens = new Uint32Array(count * C);
  for (let c = 0; c < count; c++) {
    if (bos !== null) tokens[c * C] = bos;
    tokens.set(stream.subarray(c * perContext, (c + 1) * perContext), c * C + scoredStart);
  }
  return {
    name: `${corpus.name}, ${(count * C).toLocaleString('en-US')} tokens`,
    contextLength: C, count, tokens, scoredStart,
    key: corpusKey(C, scoredStart, tokens),
  };
}
