/**
 * Exponential backoff with jitter for retrying storage: the first retry comes quickly
 * (a disk freed by an operator should be used at once), later ones at most `maxMs`
 * apart, so a disk that stays full costs a few syscalls a second, not a busy loop.
 * Jitter spreads the retries of the log, the index and every processor thread apart.
 */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly initialMs = 50,
    private readonly maxMs = 2000,
    /** Injected for tests; returns [0, 1). */
    private readonly random: () => number = Math.random,
  ) {}

  /** Failures since the last reset. */
  get attempts(): number {
    return this.failures;
  }

  /** Counts a failure and returns how long to wait before the next try: in [d/2, d], d = min(max, initial · 2^(n−1)). */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return Math.round(ceiling / 2 + (ceiling / 2) * this.random());
  }

  /** After a success: the next failure starts again from `initialMs`. */
  reset(): void {
    this.failures = 0;
  }
}
