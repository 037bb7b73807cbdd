/** How often one device may connect: `limits.connectsPerMinute` and `limits.connectBurst`. */
export interface ConnectRate {
  /** Sustained CONNECTs per minute per device; 0 = unlimited. */
  readonly perMinute: number;
  /** CONNECTs a device may make in a burst above the rate. */
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** A CONNECT's turn is never pushed further out than this; past it the CONNECT is refused (retry later). */
export const MAX_CONNECT_HOLD_MS = 10_000;

/** Devices whose buckets are kept at most; past it the least recently connected is forgotten (its bucket was full or nearly). */
const MAX_TRACKED = 1_000_000;

/**
 * Paces each device's CONNECTs, as the publish limits pace its messages: a device that
 * reconnects in a loop (a firmware bug, or a script that connects per reading) costs the
 * gateway a TLS or TCP handshake, an authentication, a session and a takeover each time,
 * on the thread every other device's PUBACKs need. Over its rate a CONNECT's CONNACK is
 * held until the device's turn (it is not refused: the device connects, later), so a loop
 * runs at the rate; a device that piles up more than MAX_CONNECT_HOLD_MS of turns is
 * refused instead and its refusal does not take a turn. Asked after authentication, so
 * someone without the device's credentials cannot use up its turns.
 */
export class ConnectPacer {
  // A Map iterates in insertion order; re-inserting on each CONNECT keeps the least
  // recently connected device first, which is the first whose bucket is full again.
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  constructor(
    private readonly rate: ConnectRate,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.perMs = rate.perMinute / 60_000;
  }

  /** Devices with a bucket that is not full. */
  get tracked(): number {
    return this.buckets.size;
  }

  /**
   * Takes a turn for a CONNECT by `deviceId`: 0 to answer it now, a positive number of ms
   * to hold its CONNACK for, or -1 when its turn would be over MAX_CONNECT_HOLD_MS away
   * (refuse it; nothing was taken).
   */
  take(deviceId: string): number {
    if (this.perMs === 0) return 0;
    const now = this.now();
    this.forgetFull(now);
    const bucket = this.buckets.get(deviceId) ?? { tokens: this.rate.burst, updatedAt: now };
    const tokens = Math.min(this.rate.burst, bucket.tokens + (now - bucket.updatedAt) * this.perMs) - 1;
    const wait = tokens >= 0 ? 0 : -tokens / this.perMs;
    if (wait > MAX_CONNECT_HOLD_MS) return -1;
    bucket.tokens = tokens;
    bucket.updatedAt = now;
    this.buckets.delete(deviceId);
    this.buckets.set(deviceId, bucket);
    if (this.buckets.size > MAX_TRACKED) this.buckets.delete(this.buckets.keys().next().value!);
    return Math.ceil(wait);
  }

  /** Drops buckets that have refilled, oldest first, so memory follows the devices connecting now. */
  private forgetFull(now: number): void {
    for (const [id, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.updatedAt) * this.perMs < this.rate.burst) return;
      this.buckets.delete(id);
    }
  }
}
