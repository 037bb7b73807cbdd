/**
 * A per-device token bucket. Instead of refusing a message over the rate, `delayFor`
 * says how long to hold it: the gateway holds the publish, aedes stops reading that
 * socket, and TCP slows the device down. Nothing is dropped.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    now = performance.now(),
  ) {
    this.tokens = burst;
    this.updatedAt = now;
  }

  /** Takes `n` tokens and returns how many ms to wait before the message may proceed (0 = now). */
  delayFor(n: number, now = performance.now()): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) * this.ratePerSecond) / 1000);
    this.updatedAt = now;
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.ratePerSecond;
  }

  /** Milliseconds until the bucket is full again (0 when it is). */
  fullIn(now = performance.now()): number {
    const tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) * this.ratePerSecond) / 1000);
    return ((this.burst - tokens) * 1000) / this.ratePerSecond;
  }
}
