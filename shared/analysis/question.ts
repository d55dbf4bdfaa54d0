/**
 * The question every view answers: why does the model prefer the target over the distractor
 * after this prompt? Δ = logit[P, target] − logit[P, distractor]. A target or distractor that
 * is several tokens is reported and its first token used, never silently truncated.
 */
import { ModelError, type Decoder, type Tokenizer } from '../engine/decoder.js';

export interface Question {
  prompt: string;
  target: string;
  distractor: string;
}

export interface ResolvedQuestion {
  /** Prompt token ids (with BOS when the tokenizer prepends one). */
  tokens: number[];
  target: number;
  distractor: number;
  /** How target and distractor tokenize after the prompt: the first id is the one used. */
  targetTokens: number[];
  distractorTokens: number[];
  /** Human-readable notes, e.g. "target ' treehouse' is 2 tokens ...; using the first". */
  warnings: string[];
}

/** The tokens `text` adds when it follows `prompt` (so word-initial spaces tokenize naturally). */
export function continuationTokens(tokenizer: Tokenizer, prompt: string, promptTokens: number[], text: string): number[] {
  const full = tokenizer.encode(prompt + text);
  if (full.length > promptTokens.length && promptTokens.every((id, i) => full[i] === id)) return full.slice(promptTokens.length);
  return tokenizer.encode(text).filter((id) => id !== tokenizer.bosId);
}

export function resolveQuestion(tokenizer: Tokenizer, decoder: Decoder, question: Question): ResolvedQuestion {
  const { prompt, target, distractor } = question;
  if (prompt.length === 0) throw new ModelError('The prompt is empty.');
  if (target.length === 0) throw new ModelError('The target token is empty.');
  if (distractor.length === 0) throw new ModelError('The distractor token is empty.');
  const tokens = tokenizer.encode(prompt);
  if (tokens.length === 0) throw new ModelError('The prompt encodes to no tokens.');
  if (tokens.length > decoder.spec.contextLength) {
    throw new ModelError(`The prompt is ${tokens.length} tokens, longer than the context window of ${decoder.spec.contextLength}.`);
  }
  const warnings: string[] = [];
  const describe = (label: string, text: string, ids: number[]) => {
    if (ids.length === 0) throw new ModelError(`The ${label} "${text}" encodes to no tokens.`);
    if (ids.length > 1) {
      const parts = ids.map((id) => JSON.stringify(tokenizer.tokenString(id))).join(', ');
      warnings.push(`The ${label} ${JSON.stringify(text)} is ${ids.length} tokens [${parts}]; using the first, ${JSON.stringify(tokenizer.tokenString(ids[0]!))}.`);
    }
  };
  const targetTokens = continuationTokens(tokenizer, prompt, tokens, target);
  const distractorTokens = continuationTokens(tokenizer, prompt, tokens, distractor);
  describe('target', target, targetTokens);
  describe('distractor', distractor, distractorTokens);
  if (targetTokens[0] === distractorTokens[0]) {
    throw new ModelError(`Target and distractor start with the same token (${JSON.stringify(tokenizer.tokenString(targetTokens[0]!))}); choose tokens that differ.`);
  }
  return { tokens, target: targetTokens[0]!, distractor: distractorTokens[0]!, targetTokens, distractorTokens, warnings };
}
