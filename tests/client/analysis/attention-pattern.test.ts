/**
 * The attention scores shown beside the grid, on patterns whose answer is known: a pure
 * previous-token head, a pure induction head over a repeated sequence, and uniform attention
 * (scores worked out by hand); the pattern assembly stops at the first missing frame.
 */
import { describe, expect, it } from 'vitest';
import { assemblePattern, inductionScore, previousTokenScore } from '../../../client/analysis/state/attention-pattern.js';

const rows = (size: number, weight: (q: number, k: number) => number) => (q: number) =>
  q < size ? Float32Array.from({ length: q + 1 }, (_, k) => weight(q, k)) : undefined;

describe('attention pattern scores', () => {
  const tokens = [5, 6, 7, 8, 5, 6, 7, 8];
  it('scores a previous-token head 1 and its induction 0', () => {
    const pattern = assemblePattern(rows(8, (q, k) => (q === 0 ? 1 : k === q - 1 ? 1 : 0)), 8);
    expect(previousTokenScore(pattern)).toBe(1);
    expect(inductionScore(pattern, tokens)).toBe(0);
  });
  it('scores an induction head 1 on the repeated half', () => {
    // Query q ≥ 4 repeats token q − 4; the induction target is q − 3.
    const pattern = assemblePattern(rows(8, (q, k) => (q >= 4 ? (k === q - 3 ? 1 : 0) : k === 0 ? 1 : 0)), 8);
    expect(inductionScore(pattern, tokens)).toBe(1);
    expect(previousTokenScore(pattern)).toBeCloseTo(1 / 7, 6); // only q = 1 puts weight on q − 1
  });
  it('uniform attention: 1/(q+1) per key', () => {
    const pattern = assemblePattern(rows(8, (q) => 1 / (q + 1)), 8);
    let previous = 0;
    for (let q = 1; q < 8; q++) previous += 1 / (q + 1);
    expect(previousTokenScore(pattern)).toBeCloseTo(previous / 7, 6);
    expect(inductionScore(pattern, tokens)).toBeCloseTo((1 / 5 + 1 / 6 + 1 / 7 + 1 / 8) / 4, 6);
  });
  it('stops at the first missing row', () => {
    const pattern = assemblePattern((q) => (q < 3 ? new Float32Array(q + 1).fill(1 / (q + 1)) : undefined), 8);
    expect(pattern.size).toBe(3);
    expect(previousTokenScore(assemblePattern(() => undefined, 5))).toBeNull();
  });
});
