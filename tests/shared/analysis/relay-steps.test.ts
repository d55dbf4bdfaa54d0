/**
 * relaySteps: progress passes through (mapped), the inner result and last progress come back, and
 * closing the outer sequence early (a cancelled job) closes the inner one.
 */
import { describe, expect, it } from 'vitest';
import { relaySteps, runSteps, type StepProgress, type Steps } from '../../../shared/analysis/steps.js';

function counted(n: number, log: string[]): Steps<string> {
  return (async function* () {
    try {
      for (let i = 1; i <= n; i++) yield { phase: 'inner', done: i, total: n };
      return 'result';
    } finally {
      log.push('inner closed');
    }
  })();
}

describe('relaySteps', () => {
  it('relays mapped progress and returns the result with the last progress', async () => {
    const log: string[] = [];
    const seen: StepProgress[] = [];
    const outer = (async function* (): Steps<[string, StepProgress]> {
      const { value, last } = yield* relaySteps(counted(3, log), (p) => ({ ...p, total: p.total + 2 }));
      return [value, last];
    })();
    const [value, last] = await runSteps(outer, (p) => seen.push(p));
    expect(value).toBe('result');
    expect(seen.map((p) => [p.done, p.total])).toEqual([[1, 5], [2, 5], [3, 5]]);
    expect(last).toEqual({ phase: 'inner', done: 3, total: 5 });
    expect(log).toEqual(['inner closed']);
  });

  it('closes the inner steps when the outer sequence is closed between steps', async () => {
    const log: string[] = [];
    const outer = (async function* (): Steps<string> {
      const { value } = yield* relaySteps(counted(10, log));
      log.push('outer went on');
      return value;
    })();
    await outer.next();
    await outer.next();
    expect(log).toEqual([]);
    await outer.return(undefined as never);
    expect(log).toEqual(['inner closed']);
  });
});
