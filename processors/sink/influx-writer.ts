/** Writes batches of line protocol to InfluxDB, resolving only once a batch is durable there. */
import type { InfluxConfig } from './config.js';
import { SinkClosedError, SinkRejectedError, type SinkUnavailableError } from './errors.js';
import { InfluxHttp, type Attempt, type InfluxHttpConfig } from './influx-http.js';
import { Slots } from './slots.js';

/** The `influx.*` settings the writer uses (a parsed InfluxConfig has them all). */
export type InfluxWriterConfig = InfluxHttpConfig & Pick<InfluxConfig, 'maxRetries' | 'maxRetryDelay'>;

export interface InfluxWriterOptions {
  /** A line InfluxDB refused for its content (type conflict, unparsable); the caller dead-letters it. */
  onBadPoint: (line: string, message: string) => void;
  /** Called before each wait for a retry, for metrics and logs; `attempt` counts from 1. */
  onRetry?: (error: SinkUnavailableError, attempt: number, delayMs: number) => void;
  /** First step of the backoff, default 100 ms: retry n waits random(0, min(maxRetryDelay, base·2^(n-1))). */
  minRetryDelay?: number;
}

/**
 * One writer per processor, shared by its partitions' sinks: it bounds the requests in flight
 * across all of them. Retriable failures are retried until `close()` (or `maxRetries`): while
 * InfluxDB is down, write() simply does not resolve and the checkpoint does not advance.
 */
export class InfluxWriter {
  private readonly http: InfluxHttp;
  private readonly slots: Slots;
  private readonly stop = new AbortController();
  private readonly minRetryDelay: number;
  /** Backoff waits in progress, so close() can end them without a listener per wait on the signal. */
  private readonly waits = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

  constructor(
    private readonly config: InfluxWriterConfig,
    private readonly options: InfluxWriterOptions,
  ) {
    this.http = new InfluxHttp(config);
    this.slots = new Slots(config.maxInflightRequests, this.stop.signal);
    this.minRetryDelay = options.minRetryDelay ?? 100;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.stop.signal.aborted;
  }

  /**
   * Writes the lines; resolves when InfluxDB has accepted every good one (204) and each bad
   * one went to onBadPoint. Rejects with SinkRejectedError (fix the config), SinkClosedError,
   * or SinkUnavailableError once maxRetries is spent.
   */
  async write(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    const outcome = await this.attempt((signal) => this.http.write(lines.join('\n'), signal));
    if (outcome.kind === 'ok') return;
    if (lines.length === 1) {
      this.options.onBadPoint(lines[0]!, outcome.message);
      return;
    }
    // 413: halve until each part fits. 400/422: InfluxDB does not say which line is bad, so
    // bisect; 1.x has already stored the good lines of a partial write, and writing them
    // again is an idempotent upsert. Halves go in order so that a later duplicate of a
    // point still lands last, as it would have in the whole batch.
    const mid = lines.length >>> 1;
    await this.write(lines.slice(0, mid));
    await this.write(lines.slice(mid));
  }

  /** v1: `CREATE DATABASE` (a no-op when it exists), for when Sluice manages the database. v2: nothing. */
  async ensureDatabase(): Promise<void> {
    if (this.config.version === 2) return;
    const name = this.config.database.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
    const statement = `CREATE DATABASE "${name}"`;
    const outcome = await this.attempt((signal) => this.http.query(statement, signal));
    if (outcome.kind !== 'ok') throw new SinkRejectedError(`InfluxDB at ${this.config.url} refused \`${statement}\`: ${outcome.message}`, 400);
  }

  /** Stops retrying and aborts requests in flight; pending write() calls reject with SinkClosedError. */
  close(): void {
    if (this.closed) return;
    this.stop.abort(new SinkClosedError());
    this.http.close();
    for (const wait of this.waits) {
      clearTimeout(wait.timer);
      wait.resolve();
    }
    this.waits.clear();
  }

  /** Resolves after `ms`, or at once when the writer closes (the retry loop then sees it closed). */
  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wait = { timer: setTimeout(() => this.waits.delete(wait) && resolve(), ms), resolve };
      this.waits.add(wait);
    });
  }

  /** One request, retried while InfluxDB is unavailable; resolves with the first non-retry outcome. */
  private async attempt(request: (signal: AbortSignal) => Promise<Attempt>): Promise<Exclude<Attempt, { kind: 'retry' }>> {
    const signal = this.stop.signal;
    for (let attempt = 1; ; attempt++) {
      let outcome: Attempt;
      try {
        const release = await this.slots.acquire();
        try {
          outcome = await request(signal);
        } finally {
          release();
        }
        if (signal.aborted) throw signal.reason;
        if (outcome.kind !== 'retry') return outcome;
        const { maxRetries } = this.config;
        if (maxRetries !== undefined && attempt > maxRetries) throw outcome.error;
        const delay = outcome.retryAfterMs ?? this.backoff(attempt);
        this.options.onRetry?.(outcome.error, attempt, delay);
        // The slot is released while waiting: other batches may find InfluxDB back first.
        await this.wait(delay);
      } catch (err) {
        if (signal.aborted) throw new SinkClosedError();
        throw err;
      }
    }
  }

  /** Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"). */
  private backoff(attempt: number): number {
    const ceiling = Math.min(this.config.maxRetryDelay, this.minRetryDelay * 2 ** Math.min(attempt - 1, 30));
    return Math.round(Math.random() * ceiling);
  }
}
