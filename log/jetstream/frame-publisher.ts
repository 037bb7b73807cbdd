/**
 * Publishes frames to the stream: at most `maxInflight` at once over all partitions, each
 * retried with the SAME `Nats-Msg-Id` until the server acks it. A publish that timed out
 * may have been stored anyway (its ack lost, or a leader stored it just before an
 * election); the server drops a repeat of a msg id seen within the stream's
 * `duplicate_window` and acks it with the first copy's sequence, so a retry never stores
 * a frame twice. A frame is never given up on for a transient error: an append rejected
 * here would be re-sent by the device under a new id, which is exactly the duplicate we
 * avoid. Only close() ends the retrying.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { Backoff } from '../../core/backoff.js';
import { LogClosedError } from '../../core/errors.js';
import { InflightSlots } from './inflight-slots.js';

/** What a running publisher has done, for metrics and tests. */
export interface PublisherStats {
  published: number;
  /** Attempts that failed and were retried. */
  retries: number;
  /** Acks that said `duplicate`: a retry the server de-duplicated. */
  duplicates: number;
  /** The longest a frame took from its first attempt to its ack (ms). */
  longestMs: number;
  /** The newest publish failure, for diagnosing a stall. */
  lastError?: unknown;
}

export class FramePublisher {
  readonly stats: PublisherStats = { published: 0, retries: 0, duplicates: 0, longestMs: 0 };
  private readonly slots: InflightSlots;
  private readonly aborter = new AbortController();
  private closing = false;

  constructor(
    private readonly js: JetStreamClient,
    maxInflight: number,
    private readonly timeoutMs: number,
  ) {
    this.slots = new InflightSlots(maxInflight);
  }

  /** Publishes `frame` on `subject` and resolves with its stream sequence; rejects only with LogClosedError after close(). */
  async publish(subject: string, frame: Uint8Array, msgID: string): Promise<number> {
    await this.slots.acquire();
    try {
      const started = Date.now();
      const backoff = new Backoff(50, 2000);
      for (;;) {
        if (this.closing && backoff.attempts > 0) throw new LogClosedError(`log closed while frame ${msgID} waited for the server (not stored or not confirmed)`);
        try {
          const ack = await this.js.publish(subject, frame, { msgID, timeout: this.timeoutMs, retries: 0 });
          this.stats.published++;
          if (ack.duplicate) this.stats.duplicates++;
          this.stats.longestMs = Math.max(this.stats.longestMs, Date.now() - started);
          return ack.seq;
        } catch (err) {
          // Timeouts, no responders (no leader yet), a dropped connection: all transient.
          this.stats.lastError = err;
          this.stats.retries++;
          if (this.closing) throw new LogClosedError(`log closed while frame ${msgID} waited for the server (not stored or not confirmed)`);
          await abortableSleep(backoff.next(), this.aborter.signal);
        }
      }
    } finally {
      this.slots.release();
    }
  }

  /** From now on a failed attempt is not retried: its frame is rejected with LogClosedError. Attempts under way finish. */
  close(): void {
    this.closing = true;
    this.aborter.abort();
  }
}

/** Waits `ms`, or less when `signal` aborts (close must not wait out a 2 s backoff). */
function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
