/**
 * The scheduler's low priority (index builds): a waiting user job always runs before the next
 * low-priority step, and under continuous user work the low-priority job still gets one step
 * per interval; round robin between users is unchanged.
 */
import { describe, expect, it } from 'vitest';
import { Scheduler, type Job } from '../../../server/transport/scheduler.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function job(id: string, clientId: string, steps: number, log: string[], ms = 2, priority?: 'low'): Job & { done: Promise<void> } {
  let left = steps;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => { finish = resolve; });
  return {
    id, clientId, priority, cancelled: false, done,
    onCancel: () => finish(),
    step: async () => {
      log.push(id);
      await sleep(ms);
      left--;
      if (left === 0) finish();
      return left > 0;
    },
  };
}

describe('scheduler priorities', () => {
  it('runs a waiting user job before the next low-priority step', async () => {
    const scheduler = new Scheduler(60_000);
    const log: string[] = [];
    const index = job('L', 'index', 6, log, 5, 'low');
    scheduler.submit(index);
    await sleep(1); // the first low step is running
    const a = job('A', 'alice', 3, log);
    const b = job('B', 'bob', 2, log);
    scheduler.submit(a);
    scheduler.submit(b);
    await Promise.all([a.done, b.done, index.done]);
    expect(log).toEqual(['L', 'A', 'B', 'A', 'B', 'A', 'L', 'L', 'L', 'L', 'L']);
  });

  it('gives the low-priority job one step per interval while users keep the scheduler busy', async () => {
    const scheduler = new Scheduler(40);
    const log: string[] = [];
    const index = job('L', 'index', 100, log, 1, 'low');
    const user = job('U', 'user', 60, log, 4);
    scheduler.submit(user);
    scheduler.submit(index);
    await user.done;
    const lowSteps = log.filter((s) => s === 'L').length;
    expect(lowSteps).toBeGreaterThanOrEqual(2); // ≈ 250 ms of user work / 40 ms
    expect(lowSteps).toBeLessThan(15);
    expect(log.join('')).not.toMatch(/LL/); // never two low steps while a user waits
    index.cancelled = true;
  });
});
