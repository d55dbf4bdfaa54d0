/**
 * Fair scheduling of model work. ONNX Runtime runs one call at a time per session, so every
 * job is split into small steps (one forward pass each: a prompt, or one generated token) and
 * the scheduler takes steps from the clients in turn (round robin). One client's long
 * generation never blocks another client's short run; cancelling a job drops it at its next
 * step; a client that disconnects has all its jobs cancelled.
 *
 * Low-priority jobs (the neuron index build) run when no user job waits, and otherwise get one
 * step every LOW_PRIORITY_EVERY_MS, so users wait at most one such step and the build still
 * creeps forward while the server is busy.
 */

export const LOW_PRIORITY_EVERY_MS = 2000;

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
  kind?: 'run' | 'generate' | 'analysis' | 'index';
}

export class Scheduler {
  constructor(private readonly lowPriorityEveryMs = LOW_PRIORITY_EVERY_MS) {}

  private readonly queues = new Map<string, Job[]>();
  private order: string[] = [];
  private running = false;

  submit(job: Job): void {
    let queue = this.queues.get(job.clientId);
    if (!queue) {
      queue = [];
      this.queues.set(job.clientId, queue);
      this.order.push(job.clientId);
    }
    queue.push(job);
    void this.pump();
  }

  cancel(jobId: string, clientId: string): boolean {
    const job = this.queues.get(clientId)?.find((j) => j.id === jobId);
    if (!job || job.cancelled) return false;
    job.cancelled = true;
    job.onCancel();
    return true;
  }

  cancelClient(clientId: string): void {
    for (const job of this.queues.get(clientId) ?? []) {
      if (!job.cancelled) {
        job.cancelled = true;
        job.onCancel();
      }
    }
  }

  pendingJobs(clientId: string): number {
    return this.queues.get(clientId)?.filter((j) => !j.cancelled).length ?? 0;
  }

  private lastLowStep = -Infinity;

  private next(): Job | null {
    const lowDue = performance.now() - this.lastLowStep >= this.lowPriorityEveryMs;
    const job = (lowDue ? this.pick(true) : null) ?? this.pick(false) ?? this.pick(true);
    if (job?.priority === 'low') this.lastLowStep = performance.now();
    return job;
  }

  /** The next client in turn whose head job has (`low`) or lacks low priority; it goes to the back. */
  private pick(low: boolean): Job | null {
    for (let k = 0; k < this.order.length; k++) {
      const clientId = this.order[k]!;
      const queue = this.queues.get(clientId)!;
      while (queue.length > 0 && queue[0]!.cancelled) queue.shift();
      const job = queue[0];
      if (job && (job.priority === 'low') === low) {
        this.order.splice(k, 1);
        this.order.push(clientId); // round robin: this client goes to the back
        return job;
      }
    }
    return null;
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let job = this.next(); job; job = this.next()) {
        let more = false;
        try {
          more = job.cancelled ? false : await job.step();
        } catch {
          more = false; // the job reported its own error; the scheduler keeps serving everyone else
        }
        if (!more) {
          const queue = this.queues.get(job.clientId)!;
          queue.splice(queue.indexOf(job), 1);
          if (queue.length === 0) {
            this.queues.delete(job.clientId);
            this.order = this.order.filter((c) => c !== job.clientId);
          }
        }
      }
    } finally {
      this.running = false;
    }
  }
}
