/** A partition's buffer of points on their way to InfluxDB, and the pre-commit flush before a checkpoint. */
import type { InfluxWriter } from './influx-writer.js';
import { lineKey, toLineProtocol, type SinkPoint } from './point.js';

export interface InfluxSinkOptions {
  /** Usually one writer shared by every partition of a processor. */
  writer: Pick<InfluxWriter, 'write'>;
  /** Lines per write request (influx.batchSize). */
  batchSize: number;
  /** Background flush period in ms (influx.flushInterval), once start() is called. */
  flushInterval: number;
  /** Points buffered (or in flight) past which `saturated` turns true. Default 10 × batchSize. */
  maxBufferedPoints?: number;
  /** A background flush failed; its points stay buffered and the next one retries them. */
  onError?: (error: unknown) => void;
}

/**
 * Buffers line protocol by InfluxDB's point identity (series + time), so a window fired
 * again before the flush replaces its earlier point instead of racing it, and every flush
 * holds each point once. Flushes run one after another, never overlapping, so a point
 * written by a later flush always lands after the same point from an earlier one.
 */
export class InfluxSink {
  private pending = new Map<string, string>();
  private inflight = 0;
  /** The last queued flush; it never rejects, so each flush can chain on it. */
  private tail: Promise<void> = Promise.resolve();
  private backgroundQueued = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly maxBuffered: number;

  constructor(private readonly options: InfluxSinkOptions) {
    this.maxBuffered = options.maxBufferedPoints ?? 10 * options.batchSize;
  }

  /** Points added and not yet durable in InfluxDB (buffered or in flight). */
  get size(): number {
    return this.pending.size + this.inflight;
  }

  /** True while `size` is at or past maxBufferedPoints: stop reading the log and await flush(). */
  get saturated(): boolean {
    return this.size >= this.maxBuffered;
  }

  /**
   * Buffers a point; throws PointInvalidError (nothing buffered) if it cannot be written.
   * A point with the same measurement, tags and time as a buffered one replaces it; callers
   * always write a point's whole field set, so this is what InfluxDB's upsert would keep.
   */
  add(point: SinkPoint): void {
    const line = toLineProtocol(point);
    const key = lineKey(line);
    // delete first: a replaced point moves to the end, keeping the buffer in write order.
    this.pending.delete(key);
    this.pending.set(key, line);
    if (this.timer !== undefined && this.pending.size >= this.options.batchSize) this.background();
  }

  /** Resolves once every point added before the call is durable in InfluxDB; on failure they stay buffered. */
  flush(): Promise<void> {
    const run = this.tail.then(() => this.writeOut());
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Starts flushing every flushInterval and whenever a full batch is buffered. */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      if (this.pending.size > 0) this.background();
    }, this.options.flushInterval);
    // The processor's own lifecycle keeps the process alive, not this timer.
    this.timer.unref();
  }

  /**
   * Stops background flushing and waits for a flush in progress; buffered points are not
   * written (flush() first for that). While InfluxDB is down that wait lasts until the
   * writer is closed.
   */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.tail;
  }

  private background(): void {
    if (this.backgroundQueued) return;
    this.backgroundQueued = true;
    const run = this.tail.then(() => {
      this.backgroundQueued = false;
      return this.writeOut();
    });
    this.tail = run.catch((error: unknown) => this.options.onError?.(error));
  }

  /** Writes everything buffered, in batches; puts back whatever failed. */
  private async writeOut(): Promise<void> {
    if (this.pending.size === 0) return;
    const entries = [...this.pending];
    this.pending = new Map();
    this.inflight = entries.length;
    const batches: [string, string][][] = [];
    for (let i = 0; i < entries.length; i += this.options.batchSize) batches.push(entries.slice(i, i + this.options.batchSize));
    // The writer bounds requests in flight; batches of one flush hold distinct points, so
    // their relative order does not matter.
    const results = await Promise.allSettled(batches.map((batch) => this.options.writer.write(batch.map(([, line]) => line))));
    this.inflight = 0;
    let failure: { reason: unknown } | undefined;
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') return;
      failure ??= result;
      // A newer version of a point added meanwhile wins over the failed older one.
      for (const [key, line] of batches[i]!) if (!this.pending.has(key)) this.pending.set(key, line);
    });
    if (failure) throw failure.reason;
  }
}
