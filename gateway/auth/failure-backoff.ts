/** How a FailureBackoff grows and how much it remembers. */
export interface BackoffPolicy {
  /** Failures in a row at which a key starts backing off (≥ 1; 1 = after the first). */
  readonly threshold: number;
  /** The first backoff, in ms; each further failure doubles it. */
  readonly initialMs: number;
  /** The longest backoff, in ms. A key quiet for this long after its backoff is forgotten. */
  readonly maxMs: number;
  /** Keys tracked at most; the least recently failed are forgotten first, so memory stays bounded. */
  readonly maxKeys: number;
}

interface Failures {
  count: number;
  /** Until when (ms since epoch) this key is refused without a check. */
  until: number;
}

/**
 * Exponential backoff after consecutive credential failures, per key (a device id, or a
 * source address). At `threshold` failures in a row a key is refused for
 * `initialMs`, then twice that after the next failure, up to `maxMs`; a success clears it.
 * The caller refuses a key that is backing off without doing the slow check, so a storm
 * of wrong secrets costs one hash per backoff period per key instead of one per CONNECT.
 */
export class FailureBackoff {
  // A Map iterates in insertion order; re-inserting on each failure keeps the least
  // recently failed key first, which is the one evicted.
  private readonly keys = new Map<string, Failures>();

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /** Number of keys tracked. */
  get size(): number {
    return this.keys.size;
  }

  /** Milliseconds `key` must still wait, 0 when it may try now. */
  remainingMs(key: string): number {
    const entry = this.keys.get(key);
    if (entry === undefined) return 0;
    const now = this.now();
    if (now >= entry.until + this.policy.maxMs) {
      // Quiet for a whole max period after its backoff ended: start afresh.
      this.keys.delete(key);
      return 0;
    }
    return Math.max(0, entry.until - now);
  }

  /** Records a failed check for `key`. */
  fail(key: string): void {
    const now = this.now();
    const previous = this.keys.get(key);
    const fresh = previous === undefined || now >= previous.until + this.policy.maxMs;
    const count = fresh ? 1 : previous.count + 1;
    const over = count - this.policy.threshold;
    const delay = over < 0 ? 0 : Math.min(this.policy.maxMs, this.policy.initialMs * 2 ** Math.min(over, 30));
    this.keys.delete(key);
    this.keys.set(key, { count, until: now + delay });
    if (this.keys.size > this.policy.maxKeys) this.keys.delete(this.keys.keys().next().value!);
  }

  /** Records a successful check: `key` starts afresh. */
  succeed(key: string): void {
    this.keys.delete(key);
  }
}
