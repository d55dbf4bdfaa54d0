/**
 * Fair scheduling of model work. Every job is split into small steps (one forward pass each: a
 * prompt, or one generated token; one batch of an analysis) and each lane of the scheduler (see
 * `Scheduler` at the end: analyses have a lane of their own, beside runs and generations) takes
 * steps in turn (round robin): first across client addresses, then across
 * the sockets of one address. One client's long generation never blocks another client's short
 * run, and 50 sockets opened from one machine share one turn between them instead of leaving a
 * person on another machine 1/51 of the model. Cancelling a job drops it at its next step; a
 * client that disconnects has all its jobs cancelled.
 *
 * Limits (answered with BusyError, which the socket layer sends as a 'busy' error): at most
 * `maxPendingJobs` unfinished jobs per client, and one analysis job per client at a time.
 *
 * Low-priority jobs (the neuron index build) run when no user job waits, and otherwise get one
 * step every LOW_PRIORITY_EVERY_MS, so users wait at most one such step and the build still
 * creeps forward while the server is busy.
 */

export const LOW_PRIORITY_EVERY_MS = 2000;
/** While users wait, an analysis holds back this many times its last step's duration (Scheduler). */
export const ANALYSIS_YIELD = 3;
/** Unfinished jobs one client (socket) may have before new ones are refused as busy. */
export const MAX_PENDING_JOBS = 8;

export interface Job {
  readonly id: string;
  readonly clientId: string;
  /** Runs one step; resolves true when the job has more steps to run. */
  step(): Promise<boolean>;
  /** Called once when the job is cancelled before it finished. */
  onCancel(): void;
  cancelled: boolean;
  /** 'low': background work that yields to every user job (see the file header). */
  priority?: 'normal' | 'low';
  /** What the job does: 'analysis' jobs are limited to one per client at a time. */
  kind?: 'run' | 'generate' | 'analysis' | 'index';
}

/** A job refused because its client already has too much work queued. */
export class BusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BusyError';
  }
}

export interface SchedulerOptions {
  lowPriorityEveryMs?: number;
  maxPendingJobs?: number;
}

/** One lane: jobs in round robin (addresses, then sockets), one step at a time. */
class Lane {
  constructor(
    private readonly lowPriorityEveryMs: number,
    /** Client id → its address (the fairness group), shared by the lanes. */
    private readonly addresses: Map<string, string>,
    /** Awaited before each step with the last step's duration (see Scheduler). */
    private readonly beforeStep?: (lastStepMs: number) => Promise<void>,
  ) {}

  private lastStepMs = 0;

  /** Whether a user job (not a low-priority one) is running or waiting in this lane. */
  hasUserWork(): boolean {
    if (this.current && this.current.priority !== 'low' && !this.current.cancelled) return true;
    for (const queue of this.queues.values()) if (queue.some((j) => !j.cancelled && j.priority !== 'low')) return true;
    return false;
  }

  private readonly queues = new Map<string, Job[]>();
  /** Addresses in turn order, each with its clients in turn order (only those with queued jobs). */
  private order: { address: string; clients: string[] }[] = [];
  private running = false;
  /** The job whose step is running now. */
  private current: Job | null = null;

  /** The client's unfinished jobs in this lane. */
  live(clientId: string): Job[] {
    return this.queues.get(clientId)?.filter((j) => !j.cancelled) ?? [];
  }

  submit(job: Job): void {
    let queue = this.queues.get(job.clientId);
    if (!queue) {
      queue = [];
      this.queues.set(job.clientId, queue);
      const address = this.addressOf(job.clientId);
      let group = this.order.find((g) => g.address === address);
      if (!group) {
        group = { address, clients: [] };
        this.order.push(group);
      }
      group.clients.push(job.clientId);
    }
    queue.push(job);
    void this.pump();
  }

  cancel(jobId: string, clientId: string): boolean {
    const job = this.queues.get(clientId)?.find((j) => j.id === jobId);
    if (!job || job.cancelled) return false;
    job.cancelled = true;
    job.onCancel();
    if (job !== this.current) this.finish(job); // a running job leaves when its step returns
    return true;
  }

  cancelClient(clientId: string): void {
    for (const job of [...(this.queues.get(clientId) ?? [])]) {
      if (!job.cancelled) {
        job.cancelled = true;
        job.onCancel();
      }
      if (job !== this.current) this.finish(job);
    }
  }

  private addressOf(clientId: string): string {
    return this.addresses.get(clientId) ?? `client:${clientId}`;
  }

  private lastLowStep = -Infinity;

  /** Whether the step that just ran was a low-priority one (a user never waits for two). */
  private lastWasLow = false;

  private next(): Job | null {
    const lowDue = !this.lastWasLow && performance.now() - this.lastLowStep >= this.lowPriorityEveryMs;
    const job = (lowDue ? this.pick(true) : null) ?? this.pick(false) ?? this.pick(true);
    this.lastWasLow = job?.priority === 'low';
    if (this.lastWasLow) this.lastLowStep = performance.now();
    return job;
  }

  /**
   * The next address in turn with a client whose head job has (`low`) or lacks low priority,
   * and within it the next client in turn; both go to the back of their turn orders.
   */
  private pick(low: boolean): Job | null {
    for (let a = 0; a < this.order.length; a++) {
      const group = this.order[a]!;
      for (let c = 0; c < group.clients.length; c++) {
        const clientId = group.clients[c]!;
        const queue = this.queues.get(clientId)!;
        while (queue.length > 0 && queue[0]!.cancelled) queue.shift();
        const job = queue[0];
        if (job && (job.priority === 'low') === low) {
          group.clients.splice(c, 1);
          group.clients.push(clientId);
          this.order.splice(a, 1);
          this.order.push(group);
          return job;
        }
      }
    }
    return null;
  }

  private finish(job: Job): void {
    const queue = this.queues.get(job.clientId);
    if (!queue) return;
    const at = queue.indexOf(job);
    if (at >= 0) queue.splice(at, 1);
    if (queue.length > 0) return;
    this.queues.delete(job.clientId);
    // Found by membership: the client's address may already be forgotten (removeClient).
    const group = this.order.find((g) => g.clients.includes(job.clientId));
    if (!group) return;
    group.clients = group.clients.filter((c) => c !== job.clientId);
    if (group.clients.length === 0) this.order = this.order.filter((g) => g !== group);
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let job = this.next(); job; job = this.next()) {
        if (this.beforeStep) await this.beforeStep(this.lastStepMs);
        let more = false;
        this.current = job;
        const started = performance.now();
        try {
          more = job.cancelled ? false : await job.step();
        } catch {
          more = false; // the job reported its own error; the scheduler keeps serving everyone else
        } finally {
          this.current = null;
          this.lastStepMs = performance.now() - started;
        }
        if (!more || job.cancelled) this.finish(job);
        // Let sockets in between two steps: a step that computes without I/O (or whose model
        // call answered at once) would otherwise chain into the next through microtasks only,
        // and a cancel or another client's request would wait for several steps.
        await nextTask();
      }
    } finally {
      this.running = false;
    }
  }
}

/**
 * The server's scheduler: two lanes that run side by side. Analyses (Explain, Trace) take the
 * analysis lane; runs, generations and the index build take the main lane. Every ONNX Runtime
 * session computes in its own worker thread (engine/session-thread.ts), so a backward pass of
 * one client's trace and a token of another client's generation run at the same time on
 * different cores, instead of the generation waiting for the trace's step. Within a lane, turns
 * go round robin as described above. Limits count a client's jobs in both lanes.
 *
 * Both lanes share the model's forward session (an Explain's occlusion batches are forward
 * passes), where calls queue one behind the other. So while users have runs or generations
 * waiting, the analysis lane holds back after each step of D ms for up to ANALYSIS_YIELD × D ms
 * (or until the main lane is idle): a generation then waits for about one analysis call in
 * ANALYSIS_YIELD + 1 of its steps, not for one before each token, and the analysis still gets
 * about 1 / (ANALYSIS_YIELD + 1) of the time. Low-priority work (the index build) is not waited for.
 */
export class Scheduler {
  private readonly maxPendingJobs: number;
  private readonly addresses = new Map<string, string>();
  private readonly main: Lane;
  private readonly analysis: Lane;

  constructor(options: number | SchedulerOptions = {}) {
    const o = typeof options === 'number' ? { lowPriorityEveryMs: options } : options;
    this.maxPendingJobs = o.maxPendingJobs ?? MAX_PENDING_JOBS;
    const every = o.lowPriorityEveryMs ?? LOW_PRIORITY_EVERY_MS;
    this.main = new Lane(every, this.addresses);
    this.analysis = new Lane(every, this.addresses, (lastStepMs) => this.yieldToUsers(lastStepMs));
  }

  /** Holds the analysis lane back while the main lane has user work (see above). */
  private async yieldToUsers(lastStepMs: number): Promise<void> {
    const until = performance.now() + ANALYSIS_YIELD * lastStepMs;
    while (this.main.hasUserWork()) {
      const left = until - performance.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => setTimeout(resolve, Math.min(5, left)));
    }
  }

  private laneOf(job: Job): Lane {
    return job.kind === 'analysis' ? this.analysis : this.main;
  }

  /** Groups a client's jobs with the other clients of the same address for fairness. */
  setClientAddress(clientId: string, address: string): void {
    this.addresses.set(clientId, address);
  }

  /** Forgets a client (after its disconnect): cancels its jobs. */
  removeClient(clientId: string): void {
    this.cancelClient(clientId);
    this.addresses.delete(clientId);
  }

  /** Queues a job, or throws BusyError when its client is over a limit. */
  submit(job: Job): void {
    if (job.priority !== 'low') {
      const live = [...this.main.live(job.clientId), ...this.analysis.live(job.clientId)];
      if (live.length >= this.maxPendingJobs) {
        throw new BusyError(`you already have ${live.length} requests waiting (at most ${this.maxPendingJobs}); wait for them to finish or cancel one`);
      }
      if (job.kind === 'analysis' && live.some((j) => j.kind === 'analysis')) {
        throw new BusyError('one analysis at a time per client; wait for the running one to finish or cancel it');
      }
    }
    this.laneOf(job).submit(job);
  }

  cancel(jobId: string, clientId: string): boolean {
    return this.main.cancel(jobId, clientId) || this.analysis.cancel(jobId, clientId);
  }

  cancelClient(clientId: string): void {
    this.main.cancelClient(clientId);
    this.analysis.cancelClient(clientId);
  }

  pendingJobs(clientId: string): number {
    return this.main.live(clientId).length + this.analysis.live(clientId).length;
  }
}

/** Resolves in a new macrotask, after pending I/O: setImmediate in Node; in a browser (the
 * engine worker) a MessageChannel message, which unlike setTimeout(0) is never clamped to 4 ms. */
function nextTask(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise<void>((resolve) => setImmediate(resolve));
  return new Promise<void>((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}
