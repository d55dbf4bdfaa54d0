/**
 * Long analyses as resumable step sequences, so the fair scheduler can interleave them with
 * other clients' work: an analysis is an async generator that yields after each unit of work
 * (one forward or VJP batch, one assembly chunk, one occlusion batch) and returns its result.
 * A scheduler job calls `next()` once per step; a cancelled job simply stops calling it (and
 * `return()`s the generator so its buffers are released at once).
 */

/** What a step reports: real units of work done of the total known so far. */
export interface StepProgress {
  phase: string;
  done: number;
  total: number;
}

export type Steps<R> = AsyncGenerator<StepProgress, R, void>;

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

/** Runs every step in a row (CLI, tests, benchmarks); `shouldCancel` is checked between steps. */
export async function runSteps<R>(steps: Steps<R>, onStep?: (progress: StepProgress) => void, shouldCancel?: () => boolean): Promise<R> {
  for (;;) {
    if (shouldCancel?.()) {
      await steps.return(undefined as never);
      throw new CancelledError();
    }
    const next = await steps.next();
    if (next.done) return next.value;
    onStep?.(next.value);
  }
}

/**
 * Inside another step sequence: yields `steps`' progress (through `map`, e.g. to add units still
 * to come to the total) and returns their result with the last progress yielded. If the outer
 * sequence is closed early (a cancelled job), `steps` are closed too, releasing their buffers.
 */
export async function* relaySteps<R>(steps: Steps<R>, map: (progress: StepProgress) => StepProgress = (p) => p): AsyncGenerator<StepProgress, { value: R; last: StepProgress }, void> {
  let last: StepProgress = { phase: 'forward', done: 0, total: 1 };
  try {
    for (;;) {
      const next = await steps.next();
      if (next.done) return { value: next.value, last };
      last = map(next.value);
      yield last;
    }
  } finally {
    await steps.return(undefined as never);
  }
}
