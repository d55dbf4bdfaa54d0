/**
 * Errors for people (no internal codes or event names) on the server's real messages, and the
 * token pacer (minimum spacing, arrival order, flush on Stop, clear on a new run) on fake timers.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { plainError } from '../../client/state/plain-errors.js';
import { createPacer } from '../../client/state/pacing.js';

describe('plainError', () => {
  it('drops codes and event names and says what was wrong', () => {
    const long = plainError('bad_request: run:prompt: "prompt" is 20000 characters, at most 8000 allowed');
    expect(long).toBe('The prompt is 20000 characters long; at most 8000 are allowed.');
    const context = plainError('too_long: run:prompt: the prompt is 200 tokens, longer than the context window of 128');
    expect(context).toBe("The prompt is 200 tokens, longer than the model's context window of 128 tokens.");
    for (const message of [long, context, plainError('internal: internal error: boom'), plainError('busy: queue full')]) {
      expect(message).not.toMatch(/bad_request|too_long|internal:|run:prompt|busy:/);
      expect(message).toMatch(/^[A-Z]/);
    }
    expect(plainError('no_model: x')).toMatch(/not loaded/);
    expect(plainError(null)).toBe('');
  });
});

describe('createPacer', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs at once with no interval, and spaces events by the interval otherwise, in order', () => {
    let interval = 0;
    const pacer = createPacer(() => interval, () => Date.now());
    const seen: [number, number][] = [];
    const handler = pacer.wrap((n: number) => seen.push([n, Date.now()]));
    handler(1);
    handler(2);
    expect(seen.map(([n]) => n)).toEqual([1, 2]);
    interval = 150;
    vi.advanceTimersByTime(1000);
    seen.length = 0;
    const start = Date.now();
    for (let n = 0; n < 5; n++) handler(n);
    expect(seen).toHaveLength(1);
    expect(pacer.pending).toBe(4);
    vi.advanceTimersByTime(1000);
    expect(seen.map(([n]) => n)).toEqual([0, 1, 2, 3, 4]);
    for (let i = 1; i < seen.length; i++) expect(seen[i]![1] - seen[i - 1]![1]).toBeGreaterThanOrEqual(150);
    expect(seen[4]![1] - start).toBeGreaterThanOrEqual(600);
  });

  it('flush runs the queue now; clear drops it', () => {
    const pacer = createPacer(() => 500, () => Date.now());
    const seen: number[] = [];
    const handler = pacer.wrap((n: number) => seen.push(n));
    vi.advanceTimersByTime(1000);
    handler(1);
    handler(2);
    handler(3);
    pacer.flush();
    expect(seen).toEqual([1, 2, 3]);
    handler(4);
    handler(5);
    pacer.clear();
    vi.advanceTimersByTime(5000);
    expect(seen).toEqual([1, 2, 3]);
    expect(pacer.pending).toBe(0);
  });
});
