/**
 * Client-side pacing of a token stream: handlers wrapped by the pacer run at least `intervalMs()`
 * apart, in arrival order, so a viewer can watch activations stream at a chosen speed whatever
 * rate the server sends at. With an interval of 0 and nothing queued a handler runs at once.
 * `flush` runs everything queued now (Stop must not wait for the backlog); `clear` drops it
 * (a new run must not see the old run's events).
 */

export interface Pacer {
  wrap<A extends unknown[]>(handler: (...args: A) => void): (...args: A) => void;
  flush(): void;
  clear(): void;
  /** Events waiting to run. */
  readonly pending: number;
}

export function createPacer(intervalMs: () => number, now: () => number = () => performance.now()): Pacer {
  const queue: (() => void)[] = [];
  let last = -Infinity;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const schedule = () => {
    if (timer !== undefined || queue.length === 0) return;
    const wait = Math.max(0, last + intervalMs() - now());
    timer = setTimeout(() => {
      timer = undefined;
      const next = queue.shift();
      last = now();
      next?.();
      schedule();
    }, wait);
  };

  return {
    wrap(handler) {
      return (...args) => {
        const run = () => handler(...args);
        if (queue.length === 0 && timer === undefined && now() - last >= intervalMs()) {
          last = now();
          run();
          return;
        }
        queue.push(run);
        schedule();
      };
    },
    flush() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      while (queue.length > 0) queue.shift()!();
    },
    clear() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      queue.length = 0;
    },
    get pending() {
      return queue.length;
    },
  };
}
