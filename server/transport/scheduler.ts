/**
 * Fair scheduling of model work. ONNX Runtime runs one call at a time per session, so every
 * job is split into small steps (one forward pass each: a prompt, or one generated token) and
 * the scheduler takes steps from the clients in turn (round robin). One client's long
 * generation never blocks another client's short run; cancelling a job drops it at its next
 * step; a client that disconnects has all its jobs cancelled.
 */

export interface Job {
  readonly id: string;
  readonly clientId: string;
  /** Runs one step; resolves true when the job has more steps to run. */
  step(): Promise<boolean>;
  /** Called once when the job is cancelled before it finished. */
  onCancel(): void;
  cancelled: boolean;
}

export class Scheduler {
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

  private next(): Job | null {
    for (let tries = 0; tries < this.order.length; tries++) {
      const clientId = this.order.shift()!;
      this.order.push(clientId); // round robin: this client goes to the back
      const queue = this.queues.get(clientId)!;
      while (queue.length > 0 && queue[0]!.cancelled) queue.shift();
      if (queue.length > 0) return queue[0]!;
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
