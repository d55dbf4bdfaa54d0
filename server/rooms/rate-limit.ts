/**
 * A token bucket per sender: pointer and camera updates beyond the rate are dropped, not queued,
 * because a late pose is worthless (the next one replaces it).
 */
export class RateLimiter {
  private tokens: number;
  private last: number;

  /** `perSecond` sustained, `burst` at once. */
  constructor(private readonly perSecond: number, private readonly burst: number, private readonly now: () => number = () => performance.now()) {
    this.tokens = burst;
    this.last = now();
  }

  /** True when one more update may go out now. */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.perSecond);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
