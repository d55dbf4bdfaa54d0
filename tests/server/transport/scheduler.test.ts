/**
 * The scheduler's low priority (index builds): a waiting user job always runs before the next
 * low-priority step, and under continuous user work the low-priority job still gets one step
 * per interval; round robin between users is unchanged.
 */
import { describe, expect, it } from 'vitest';
import { BusyError, Scheduler, type Job } from '../../../shared/service/scheduler.js';

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
    const t0 = performance.now();
    scheduler.submit(user);
    scheduler.submit(index);
    await user.done;
    const elapsed = performance.now() - t0; // ≥ 240 ms of user work; more on a busy machine
    const lowSteps = log.filter((s) => s === 'L').length;
    expect(lowSteps).toBeGreaterThanOrEqual(2);
    // At most one low step per 40 ms interval (plus the first, due at once).
    expect(lowSteps).toBeLessThanOrEqual(Math.floor(elapsed / 40) + 1);
    expect(log.join('')).not.toMatch(/LL/); // never two low steps while a user waits
    index.cancelled = true;
  });
});

describe('scheduler limits', () => {
  it('refuses a client\'s job past the pending cap with BusyError, and accepts again once one finishes', async () => {
    const scheduler = new Scheduler({ maxPendingJobs: 3 });
    const log: string[] = [];
    const jobs = [0, 1, 2].map((k) => job(`A${k}`, 'alice', 2, log));
    for (const j of jobs) scheduler.submit(j);
    expect(() => scheduler.submit(job('A3', 'alice', 1, log))).toThrow(BusyError);
    expect(() => scheduler.submit(job('A3', 'alice', 1, log))).toThrow(/3 requests waiting \(at most 3\)/);
    // Another client is not affected by alice's queue.
    const bob = job('B', 'bob', 1, log);
    scheduler.submit(bob);
    await jobs[0]!.done;
    await sleep(1); // the scheduler removes a job when its last step has returned
    const late = job('A4', 'alice', 1, log);
    scheduler.submit(late);
    await Promise.all([...jobs.map((j) => j.done), bob.done, late.done]);
    expect(log.filter((s) => s === 'A4')).toHaveLength(1);
    // A cancelled job frees its place at once.
    const more = [0, 1, 2].map((k) => job(`C${k}`, 'carol', 50, log));
    for (const j of more) scheduler.submit(j);
    expect(scheduler.cancel('C2', 'carol')).toBe(true);
    expect(() => scheduler.submit(job('C3', 'carol', 1, log))).not.toThrow();
    scheduler.cancelClient('carol');
  });

  it('runs one analysis per client at a time', async () => {
    const scheduler = new Scheduler();
    const log: string[] = [];
    const first = { ...job('X1', 'alice', 3, log), kind: 'analysis' as const };
    scheduler.submit(first);
    expect(() => scheduler.submit({ ...job('X2', 'alice', 1, log), kind: 'analysis' })).toThrow(/one analysis at a time/);
    // Runs and another client's analysis are still accepted.
    expect(() => scheduler.submit({ ...job('R', 'alice', 1, log), kind: 'run' })).not.toThrow();
    expect(() => scheduler.submit({ ...job('Y', 'bob', 1, log), kind: 'analysis' })).not.toThrow();
    await first.done;
    await sleep(10);
    expect(() => scheduler.submit({ ...job('X3', 'alice', 1, log), kind: 'analysis' })).not.toThrow();
  });
});

describe('fairness across addresses', () => {
  it('gives one address with 20 sockets the same turn as one address with 1 socket', async () => {
    const scheduler = new Scheduler();
    const log: string[] = [];
    const crowd: ReturnType<typeof job>[] = [];
    for (let s = 0; s < 20; s++) {
      scheduler.setClientAddress(`crowd-${s}`, '10.0.0.9');
      const j = job(`C${s}`, `crowd-${s}`, 4, log, 1);
      crowd.push(j);
      scheduler.submit(j);
    }
    scheduler.setClientAddress('solo', '10.0.0.7');
    // The solo user arrives after the crowd has queued 80 steps.
    const solo = job('S', 'solo', 4, log, 1);
    scheduler.submit(solo);
    const finished: string[] = [];
    solo.done.then(() => finished.push('S'));
    crowd.forEach((j, s) => j.done.then(() => finished.push(`C${s}`)));
    await Promise.all([solo.done, ...crowd.map((j) => j.done)]);
    // Order of completion: the solo user finishes before any of the 20 crowd sockets.
    expect(finished[0]).toBe('S');
    // Step by step the two addresses alternate while both have work.
    const soloSteps = log.map((s, k) => (s === 'S' ? k : -1)).filter((k) => k >= 0);
    expect(soloSteps).toEqual([2, 4, 6, 8]); // C0 had started before S arrived
    // Within the crowd's address its sockets take turns (round robin), not one socket after another.
    const crowdOrder = log.filter((s) => s !== 'S');
    // (C0 started alone, so it went to the back of an address that then had only C0.)
    expect(crowdOrder.slice(1, 21)).toEqual(Array.from({ length: 20 }, (_, s) => `C${s}`));
  });
});

describe('clients leaving', () => {
  it('keeps serving others after a client is removed while its step runs', async () => {
    const scheduler = new Scheduler();
    const log: string[] = [];
    scheduler.setClientAddress('gone', '10.0.0.1');
    scheduler.setClientAddress('stays', '10.0.0.1');
    const leaving = job('G', 'gone', 10, log, 5);
    scheduler.submit(leaving);
    await sleep(1);
    scheduler.removeClient('gone'); // its step is running now
    const staying = job('S', 'stays', 3, log);
    scheduler.submit(staying);
    await staying.done;
    expect(log).toEqual(['G', 'S', 'S', 'S']);
    expect(scheduler.pendingJobs('gone')).toBe(0);
  });

  it('runs another client\'s run while an analysis step is still in flight (analyses have their own lane)', async () => {
    const scheduler = new Scheduler();
    const log: string[] = [];
    let release!: () => void;
    const analysisStep = new Promise<void>((resolve) => { release = resolve; });
    let analysisSteps = 0;
    const analysis: Job = {
      id: 'T', clientId: 'alice', kind: 'analysis', cancelled: false, onCancel: () => undefined,
      step: async () => {
        analysisSteps++;
        log.push('T start');
        await analysisStep;
        log.push('T end');
        return false;
      },
    };
    scheduler.submit(analysis);
    await sleep(5);
    const run = { ...job('R', 'bob', 1, log), kind: 'run' as const };
    scheduler.submit(run);
    await run.done;
    expect(log).toEqual(['T start', 'R']);
    release();
    await sleep(5);
    expect(log).toEqual(['T start', 'R', 'T end']);
    expect(analysisSteps).toBe(1);
    // The limits still count both lanes: alice's second analysis is refused while the first runs.
    const second = { ...job('T2', 'alice', 1, log), kind: 'analysis' as const };
    scheduler.submit(second);
    await second.done;
    await sleep(5);
    expect(() => scheduler.submit({ ...job('T3', 'alice', 5, log, 50), kind: 'analysis' })).not.toThrow();
    expect(() => scheduler.submit({ ...job('T4', 'alice', 1, log), kind: 'analysis' })).toThrow(/one analysis at a time/);
  });

  it('holds the analysis lane back for 3× its last step while users have work', async () => {
    const scheduler = new Scheduler();
    const steps: { start: number; end: number; userBusy: boolean }[] = [];
    let userBusy = false;
    let analysisLeft = 12;
    let finishAnalysis!: () => void;
    const analysisDone = new Promise<void>((resolve) => { finishAnalysis = resolve; });
    scheduler.submit({
      id: 'T', clientId: 'alice', kind: 'analysis', cancelled: false, onCancel: () => undefined,
      step: async () => {
        const start = performance.now();
        const busy = userBusy;
        await sleep(20);
        steps.push({ start, end: performance.now(), userBusy: busy });
        if (--analysisLeft === 0) finishAnalysis();
        return analysisLeft > 0;
      },
    });
    await sleep(30);
    const user = { ...job('G', 'bob', 40, [], 5), kind: 'generate' as const };
    userBusy = true;
    scheduler.submit(user);
    await user.done;
    userBusy = false;
    await analysisDone;
    const during = steps.filter((s) => s.userBusy);
    expect(during.length, 'the analysis still progresses while users work').toBeGreaterThanOrEqual(1);
    for (let i = 1; i < steps.length; i++) {
      const previous = steps[i - 1]!;
      if (!steps[i]!.userBusy) continue;
      const held = steps[i]!.start - previous.end;
      expect(held, `step ${i} started ${held.toFixed(1)} ms after a ${(previous.end - previous.start).toFixed(1)} ms step`)
        .toBeGreaterThanOrEqual(3 * (previous.end - previous.start) - 3);
    }
  });
});
