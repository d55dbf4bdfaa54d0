/**
 * Autoregressive generation on a KV cache: the prompt is fed once, then one position per
 * token. Greedy at temperature 0, otherwise seeded sampling, so a run can be reproduced.
 */
import type { Tensor } from './decoder.js';
import type { IncrementalRun, ModelRunner } from './runner.js';

export interface GenerateOptions {
  maxTokens: number;
  /** 0 (default) = greedy. */
  temperature?: number;
  /** Keep only the k most likely tokens when sampling (0 = all). */
  topK?: number;
  seed?: number;
  /** Stop when this token is produced (it is not included). */
  stopToken?: number | null;
  /** Hooks to capture at each newly fed position. */
  hooks?: string[];
  /** Called for each new token with the hooks of the position that produced it. */
  onToken?: (token: number, step: { logits: Float32Array; cache: Record<string, Tensor> }) => void | Promise<void>;
  /** Checked before each step; returning true stops generation. */
  shouldStop?: () => boolean;
}

export type StopReason = 'length' | 'eos' | 'context' | 'cancelled';

/** A small seeded PRNG (mulberry32): uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** Picks the next token from one position's logits [V]. */
export function pickToken(logits: Float32Array, temperature: number, topK: number, random: () => number): number {
  if (temperature <= 0) return argmax(logits);
  let candidates = Array.from(logits.keys());
  if (topK > 0 && topK < logits.length) candidates = candidates.sort((a, b) => logits[b]! - logits[a]!).slice(0, topK);
  let max = -Infinity;
  for (const i of candidates) max = Math.max(max, logits[i]!);
  const weights = candidates.map((i) => Math.exp((logits[i]! - max) / temperature));
  let r = random() * weights.reduce((a, b) => a + b, 0);
  for (let j = 0; j < candidates.length; j++) {
    r -= weights[j]!;
    if (r <= 0) return candidates[j]!;
  }
  return candidates[candidates.length - 1]!;
}

function lastRow(logits: Tensor): Float32Array {
  const V = logits.shape[logits.shape.length - 1]!;
  return logits.data.subarray(logits.data.length - V);
}

/** Generates up to `maxTokens` tokens after `prompt`; returns them and why it stopped. */
export async function generate(
  runner: ModelRunner, prompt: number[], options: GenerateOptions,
): Promise<{ tokens: number[]; reason: StopReason; run: IncrementalRun }> {
  const random = seededRandom(options.seed ?? 0);
  const run = runner.incremental();
  const hooks = options.hooks ?? [];
  const tokens: number[] = [];
  let result = await run.feed(prompt, { hooks });
  while (tokens.length < options.maxTokens) {
    if (options.shouldStop?.()) return { tokens, reason: 'cancelled', run };
    const logits = lastRow(result.logits);
    const token = pickToken(logits, options.temperature ?? 0, options.topK ?? 0, random);
    if (token === options.stopToken) return { tokens, reason: 'eos', run };
    tokens.push(token);
    if (run.length >= runner.spec.contextLength) {
      await options.onToken?.(token, { logits, cache: {} });
      return { tokens, reason: 'context', run };
    }
    result = await run.feed([token], { hooks });
    await options.onToken?.(token, { logits, cache: result.cache });
  }
  return { tokens, reason: 'length', run };
}
