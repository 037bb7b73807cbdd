import { ByteReader, ByteWriter } from '../state/bytes.js';
import type { TimeConfig } from '../windowing/window-spec.js';

const MAGIC = 0x4d575053; // "SPWM"
const VERSION = 1;

/**
 * The event-time clock of one partition task (Flink: BoundedOutOfOrdernessWatermarks
 * plus source idleness). A watermark W means "readings with time < W are complete":
 * windows with end ≤ W may fire. It never goes back.
 *
 * On time: W = max event time seen − maxOutOfOrderness.
 *
 * Idle: once no on-time reading (one at or past W) has arrived for idleTimeout of processing time, the partition's
 * event clock is taken to run on at processing-time speed from where it was last seen:
 * W = maxEventTime + (now − lastReadingAt) − maxOutOfOrderness. When devices stamp
 * readings with about the receive time this is now − maxOutOfOrderness (what a user
 * expects: quiet devices still close their windows ~idleTimeout after the last reading).
 * Unlike plain now − maxOutOfOrderness it keeps any lag between event and processing
 * time (backfilled or buffered data), so the next reading of such a source is still on
 * time. Flink instead marks an idle input as not holding back the minimum across
 * inputs; a task here has one input, so it must move the clock itself.
 *
 * Callers: only call advanceIfIdle while the task has read everything the log holds for
 * the partition. A task that is replaying, or paused by a slow sink, is not idle, and
 * advancing it would make the unread readings late.
 */
export class PartitionWatermark {
  private wm = -Infinity;
  private maxTime = -Infinity;
  private lastReadingAt: number;
  private idleNow = false;

  /** `nowMs` starts the idle clock (a restored or new partition is not idle until idleTimeout passes). */
  constructor(
    private readonly config: Pick<TimeConfig, 'maxOutOfOrderness' | 'idleTimeout'>,
    nowMs: number,
  ) {
    this.lastReadingAt = nowMs;
  }

  /** The current watermark (−Infinity before any reading). */
  get current(): number {
    return this.wm;
  }

  /** Largest event time seen. */
  get maxEventTime(): number {
    return this.maxTime;
  }

  /** True while the last advanceIfIdle found the partition idle and no reading has come since. */
  get idle(): boolean {
    return this.idleNow;
  }

  /** Records a batch whose newest reading has time maxEventTimeInBatch (non-finite = a batch without readings: ignored); returns the watermark. */
  observe(maxEventTimeInBatch: number, nowMs: number): number {
    if (!Number.isFinite(maxEventTimeInBatch)) return this.wm;
    // Only on-time readings hold the idle clock back. A device that sends nothing but late
    // readings (stale data stamped long ago, or held by its rate limit) would otherwise keep
    // the partition busy for ever, and the last windows of its quiet neighbours never close.
    if (maxEventTimeInBatch >= this.wm) {
      this.lastReadingAt = nowMs;
      this.idleNow = false;
    }
    if (maxEventTimeInBatch > this.maxTime) this.maxTime = maxEventTimeInBatch;
    this.raise(this.maxTime - this.config.maxOutOfOrderness);
    return this.wm;
  }

  /** Advances with processing time when no reading came for idleTimeout; returns the watermark. */
  advanceIfIdle(nowMs: number): number {
    const quiet = nowMs - this.lastReadingAt;
    if (quiet < this.config.idleTimeout || this.maxTime === -Infinity) return this.wm;
    this.idleNow = true;
    this.raise(this.maxTime + quiet - this.config.maxOutOfOrderness);
    return this.wm;
  }

  private raise(candidate: number): void {
    if (candidate > this.wm) this.wm = candidate;
  }

  /** State for a checkpoint: watermark and max event time (the idle clock is processing time and restarts on restore). */
  snapshot(): Uint8Array {
    const w = new ByteWriter(32);
    w.u32(MAGIC);
    w.u8(VERSION);
    w.f64(this.wm);
    w.f64(this.maxTime);
    return w.finish();
  }

  /** Restores a snapshot; `nowMs` restarts the idle clock so a restart does not count as idleness. */
  static restore(config: Pick<TimeConfig, 'maxOutOfOrderness' | 'idleTimeout'>, bytes: Uint8Array, nowMs: number): PartitionWatermark {
    const r = new ByteReader(bytes, 'watermark snapshot');
    if (r.u32() !== MAGIC) r.fail('not a watermark snapshot');
    const version = r.u8();
    if (version !== VERSION) r.fail(`version ${version} (expected ${VERSION})`);
    const p = new PartitionWatermark(config, nowMs);
    p.wm = r.f64();
    p.maxTime = r.f64();
    r.end();
    return p;
  }
}
