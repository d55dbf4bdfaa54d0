/**
 * Byte-level BPE, GPT-2 style: text → UTF-8 bytes shown as printable characters
 * (bytes_to_unicode), split by GPT-2's pre-tokenisation regex, then merges applied by rank.
 * Training counts pre-tokens once and updates pair counts incrementally per merge.
 */

import { bytesToUnicode } from '../../shared/engine/tokenizers/printable.js';

/** GPT-2's pre-tokeniser: contractions, letters, numbers, other runs, whitespace. */
export const PRETOKEN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const byteChars = bytesToUnicode();
const encoder = new TextEncoder();

/** A pre-token as its byte characters. */
export function byteString(text: string): string {
  let out = '';
  for (const b of encoder.encode(text)) out += byteChars[b];
  return out;
}

export interface BpeModel {
  vocab: Map<string, number>;
  merges: [string, string][];
}

/** Learns `vocabSize - 256 - specials` merges from pre-token counts. */
export function trainBpe(counts: Map<string, number>, mergeCount: number, onProgress?: (done: number) => void): BpeModel {
  const vocab = new Map<string, number>();
  byteChars.forEach((c) => vocab.set(c, vocab.size));
  const symbols: string[] = [...byteChars];
  const words: { ids: number[]; count: number }[] = [];
  for (const [word, count] of counts) words.push({ ids: [...word].map((c) => vocab.get(c)!), count });
  const key = (a: number, b: number) => a * 65536 + b;
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (w: number, sign: number) => {
    const { ids, count } = words[w]!;
    for (let i = 0; i + 1 < ids.length; i++) {
      const k = key(ids[i]!, ids[i + 1]!);
      pairCount.set(k, (pairCount.get(k) ?? 0) + sign * count);
      if (sign > 0) {
        let set = pairWords.get(k);
        if (!set) pairWords.set(k, (set = new Set()));
        set.add(w);
      }
    }
  };
  words.forEach((_, w) => addPairs(w, 1));
  const merges: [string, string][] = [];
  for (let m = 0; m < mergeCount; m++) {
    let best = -1;
    let bestCount = 0;
    for (const [k, c] of pairCount) {
      // Ties: the lexicographically smaller pair of strings, so training is deterministic.
      if (c > bestCount || (c === bestCount && c > 0 && pairString(k) < pairString(best))) {
        best = k;
        bestCount = c;
      }
    }
    if (best < 0 || bestCount < 2) break;
    const a = Math.floor(best / 65536);
    const b = best % 65536;
    const merged = symbols[a]! + symbols[b]!;
    const id = symbols.length;
    symbols.push(merged);
    vocab.set(merged, id);
    merges.push([symbols[a]!, symbols[b]!]);
    for (const w of pairWords.get(best) ?? []) {
      addPairs(w, -1);
      const ids = words[w]!.ids;
      const next: number[] = [];
      for (let i = 0; i < ids.length; i++) {
        if (i + 1 < ids.length && ids[i] === a && ids[i + 1] === b) {
          next.push(id);
          i++;
        } else next.push(ids[i]!);
      }
      words[w]!.ids = next;
      addPairs(w, 1);
    }
    pairCount.delete(best);
    pairWords.delete(best);
    if (m % 250 === 0) onProgress?.(m);
  }
  return { vocab, merges };

  function pairString(k: number): string {
    if (k < 0) return '\uffff';
    return `${symbols[Math.floor(k / 65536)]} ${symbols[k % 65536]}`;
  }
}

/** Encodes text with learned merges (lowest rank first), caching pre-tokens. */
export class BpeEncoder {
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, number[]>();

  constructor(private readonly model: BpeModel) {
    model.merges.forEach(([a, b], i) => this.ranks.set(`${a} ${b}`, i));
  }

  encode(text: string): number[] {
    const out: number[] = [];
    for (const match of text.matchAll(PRETOKEN)) out.push(...this.encodeWord(byteString(match[0])));
    return out;
  }

  private encodeWord(word: string): number[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    let parts = [...word];
    for (;;) {
      let bestRank = Infinity;
      let at = -1;
      for (let i = 0; i + 1 < parts.length; i++) {
        const rank = this.ranks.get(`${parts[i]} ${parts[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          at = i;
        }
      }
      if (at < 0) break;
      parts = [...parts.slice(0, at), parts[at]! + parts[at + 1]!, ...parts.slice(at + 2)];
    }
    const ids = parts.map((p) => this.model.vocab.get(p)!);
    if (this.cache.size < 500_000) this.cache.set(word, ids);
    return ids;
  }
}
