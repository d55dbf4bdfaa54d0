/**
 * CPU time per rendered frame, for benchmarks: from the first `useFrame` callback of a frame
 * to the end of the scene's render call (frame-loop updates + three's draw submission; GPU
 * time is not included). Keeps the last `capacity` frames in a ring buffer, allocation-free.
 */
export interface FrameTimerSummary {
  frames: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

export class FrameTimer {
  private readonly samples: Float64Array;
  private count = 0;
  private next = 0;
  private start = -1;

  constructor(private readonly capacity = 600) {
    this.samples = new Float64Array(capacity);
  }

  frameStart(now = performance.now()): void {
    this.start = now;
  }

  frameEnd(now = performance.now()): void {
    if (this.start < 0) return;
    this.samples[this.next] = now - this.start;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
    this.start = -1;
  }

  reset(): void {
    this.count = 0;
    this.next = 0;
    this.start = -1;
  }

  summary(): FrameTimerSummary {
    const values = Array.from(this.samples.subarray(0, this.count)).sort((a, b) => a - b);
    const at = (q: number) => (values.length ? values[Math.min(values.length - 1, Math.floor(q * values.length))] : 0);
    const mean = values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
    return { frames: values.length, meanMs: mean, p50Ms: at(0.5), p95Ms: at(0.95), maxMs: values.length ? values[values.length - 1] : 0 };
  }
}
