import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { Backoff, ExitCode, StorageHealth, storageErrno, type Logger } from '../core/index.js';
import type { Log } from '../log/index.js';
import type { LogTail } from './runtime/log-link-protocol.js';
import { LocalCheckpointStore, type CheckpointStore } from './checkpoint/index.js';
import type { ProcessorConfig } from './config.js';
import { createProcessorMetrics, type ProcessorMetrics } from './metrics.js';
import { InfluxSink, InfluxWriter, SinkRejectedError, type SinkPoint, type SinkPointId } from './sink/index.js';
import { PartitionTask } from './task/partition-task.js';

export interface ProcessorNodeDeps {
  log: Log;
  registry: Registry;
  logger: Logger;
  dataDir: string;
  /** The partitions this node owns (all of them in embedded mode). */
  partitions: number[];
  /** Wakes an idle loop when records arrive (a worker's RemoteLog); without it the loop polls. */
  tail?: LogTail;
  /** Where checkpoint writes the storage refuses are reported (component `checkpoint`). */
  health?: StorageHealth;
  /**
   * Told, as one line, why InfluxDB refuses this node's writes when that starts (credentials,
   * a missing GRANT or database), and undefined when it takes them again: for /readyz.
   */
  onSinkRefusal?: (problem: string | undefined) => void;
}

/** Records read per partition per turn: keeps partitions fair and the event loop responsive. */
const RECORDS_PER_STEP = 32;
/** The longest a busy loop leaves the lag and watermark gauges unchanged. */
const GAUGE_INTERVAL_MS = 1000;
/** How long an idle loop sleeps before looking for new records (and advancing idle watermarks). */
const IDLE_POLL_MS = 20;

/**
 * Runs one PartitionTask per owned partition on this thread, writes their points through
 * one InfluxDB sink, and checkpoints them together: every checkpoint.interval, processing
 * pauses, the sink is flushed (the pre-commit: every point emitted so far is in InfluxDB),
 * then each partition's state and offset are written; finally the log is trimmed below
 * the oldest checkpoint kept. While InfluxDB is down the flush does not return, so no
 * checkpoint advances and the log keeps everything; when the sink is full the tasks stop
 * reading, so memory stays bounded.
 */
export class ProcessorNode {
  private readonly tasks: PartitionTask[];
  private readonly sink: InfluxSink;
  private readonly writer: InfluxWriter;
  private readonly store: CheckpointStore & { problems: { file: string }[] };
  private readonly metrics: ProcessorMetrics;
  private running = false;
  private started = false;
  private loop: Promise<void> | undefined;
  private nextCheckpointId = Date.now();
  private lastCheckpointAt = Date.now();
  private wake: (() => void) | undefined;
  private gaugesAt = 0;
  private readonly health: StorageHealth;
  /** After a checkpoint the storage refused: the next one waits for this backoff, not the whole interval. */
  private readonly checkpointBackoff = new Backoff(100, 5000);
  private checkpointRetryAt = 0;

  constructor(
    private readonly config: ProcessorConfig,
    private readonly deps: ProcessorNodeDeps,
  ) {
    const logger = deps.logger;
    this.metrics = createProcessorMetrics(deps.registry);
    this.health = deps.health ?? new StorageHealth({ registry: deps.registry, logger });
    this.writer = new InfluxWriter(config.influx, {
      onBadPoint: (line, message, count = 1) => {
        this.metrics.badPoints.inc(count);
        logger.warn({ line: line.slice(0, 200), message, count }, 'InfluxDB refused a point; it is dropped');
      },
      onRetry: (err, attempt, delayMs) => {
        this.metrics.sinkRetries.inc();
        if (attempt === 1 || attempt % 10 === 0) logger.warn({ err: err.message, attempt, delayMs }, 'InfluxDB write failed; retrying');
      },
      onDeleted: (count) => this.metrics.supersededDeleted.inc(count),
      onRequest: (seconds) => this.metrics.sinkWriteSeconds.observe(seconds),
      onBadDelete: (what, message) => {
        this.metrics.supersededDeleteErrors.inc();
        logger.warn({ what: what.slice(0, 200), message }, 'InfluxDB refused to delete a superseded session point; it stays');
      },
      // Waiting on an operator, like an outage: the points stay, checkpoints wait, the log keeps the data.
      onRefusal: (err) => {
        this.metrics.sinkRefused.set(err === undefined ? 0 : 1);
        deps.onSinkRefusal?.(err === undefined ? undefined : `InfluxDB refuses writes: ${err.message} [${err.code}]`);
      },
    });
    this.sink = new InfluxSink({ writer: this.writer, batchSize: config.influx.batchSize, flushInterval: config.influx.flushInterval });
    this.store = new LocalCheckpointStore(join(deps.dataDir, 'checkpoints'), config.checkpoint.keep);
    const emit = (point: SinkPoint): void => {
      this.metrics.points.inc();
      try {
        this.sink.add(point);
      } catch (err) {
        // One unwritable point must not stop the partition: count it, say which, go on.
        this.metrics.badPoints.inc();
        logger.error({ err: (err as Error).message, point }, 'point cannot be written to InfluxDB; dropped');
      }
    };
    // A merged session's old points: deleted after their writes, in the same ordered stream as the points.
    const emitDelete = (point: SinkPointId): void => {
      try {
        this.sink.delete(point);
      } catch (err) {
        this.metrics.supersededDeleteErrors.inc();
        logger.error({ err: (err as Error).message, point }, 'superseded point cannot be deleted from InfluxDB; it stays');
      }
    };
    this.tasks = deps.partitions.map((partition) => new PartitionTask({ partition, log: deps.log, windows: config.windows, time: config.time, raw: config.outputs.raw, emit, emitDelete }));
  }

  /** Restores every task from its newest valid checkpoint (a full one and its deltas), then starts processing. */
  async start(): Promise<void> {
    for (const task of this.tasks) {
      const chain = await this.store.restorable(task.partition);
      if (chain.length === 0) {
        await task.startFresh();
        continue;
      }
      const { problem } = task.restore(chain);
      if (problem !== undefined) {
        this.metrics.checkpointFallbacks.inc();
        this.deps.logger.warn({ partition: task.partition, err: problem.message }, 'checkpoint state does not decode; restored from the one before it');
      }
      // Past every id in the chain, restored or not: a new checkpoint must not take an existing file's name.
      this.nextCheckpointId = Math.max(this.nextCheckpointId, chain[chain.length - 1]!.id + 1);
    }
    for (const problem of this.store.problems) {
      this.metrics.checkpointFallbacks.inc();
      this.deps.logger.warn({ file: problem.file }, 'checkpoint is corrupt; restored from the one before it');
    }
    this.running = true;
    // The database check waits for InfluxDB without holding up the start: the gateway
    // takes data meanwhile, and the log keeps it until the processors can write.
    this.loop = (async () => {
      if (this.config.influx.version === 1) await this.ensureDatabase();
      if (!this.running) return; // stopped before InfluxDB ever answered
      this.sink.start();
      this.started = true;
      await this.run();
    })().catch((err: unknown) => {
      // Stopping closes the writer under a stuck flush: that rejection is expected.
      if (!this.running) return;
      // A bug, not bad input: stop loudly so a supervisor restarts from the last checkpoint.
      this.deps.logger.fatal({ err }, 'processor loop failed; exiting');
      process.exit(ExitCode.internal);
    });
  }

  /**
   * Makes sure the database exists (see InfluxWriter.ensureDatabase), waiting for InfluxDB to
   * come up rather than failing the start. A database that is missing, or credentials
   * InfluxDB refuses, are logged and left to the writes: they wait (not ready, with the
   * reason) until an operator fixes it, and then go on without a restart.
   */
  private async ensureDatabase(): Promise<void> {
    for (let attempt = 1; this.running; attempt++) {
      try {
        const found = await this.writer.ensureDatabase();
        if (found.state === 'missing') this.deps.logger.warn({ url: this.config.influx.url }, `InfluxDB: ${found.reason}`);
        return;
      } catch (err) {
        if (err instanceof SinkRejectedError) {
          this.deps.logger.warn({ url: this.config.influx.url }, `InfluxDB: ${err.message}`);
          return;
        }
        if (attempt === 1) this.deps.logger.warn({ err: (err as Error).message, url: this.config.influx.url }, 'InfluxDB is not reachable yet; waiting for it');
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, Math.min(5000, 100 * 2 ** attempt));
        });
      }
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      let worked = false;
      const mark = this.deps.tail?.mark() ?? 0;
      for (const task of this.tasks) {
        if (this.sink.saturated) break;
        if (await task.step(RECORDS_PER_STEP)) worked = true;
      }
      const now = Date.now();
      const due = now - this.lastCheckpointAt >= this.config.checkpoint.interval || this.sink.saturated;
      if (due && now >= this.checkpointRetryAt) await this.checkpoint();
      // Lag and watermark delay stay fresh while busy too: a processor falling behind is never idle.
      // The log is asked for the lag at this interval only; in between a task's own reads keep it.
      if (now - this.gaugesAt >= GAUGE_INTERVAL_MS) await this.refreshLag(now);
      if (!worked) {
        for (const task of this.tasks) task.advanceIfIdle(now);
        this.updateGauges(now);
        if (this.deps.tail) await this.deps.tail.appendedSince(mark, IDLE_POLL_MS);
        else {
          await new Promise<void>((resolve) => {
            this.wake = resolve;
            setTimeout(resolve, IDLE_POLL_MS);
          });
        }
      } else {
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }

  /** Asks the log for every task's lag (one `pending` per partition), then updates the gauges. */
  private async refreshLag(now: number): Promise<void> {
    this.gaugesAt = now;
    await Promise.all(this.tasks.map((task) => task.refreshLag()));
    this.updateGauges(now);
  }

  /** Sets the lag and watermark-delay gauges from what the tasks know, without asking the log. */
  private updateGauges(now: number): void {
    for (const task of this.tasks) {
      const labels = { partition: String(task.partition) };
      this.metrics.lag.set(labels, task.lag);
      if (Number.isFinite(task.currentWatermark)) this.metrics.watermarkDelay.set(labels, (now - task.currentWatermark) / 1000);
    }
  }

  /**
   * Pre-commit (flush the sink), then write every task's checkpoint, then trim the log.
   * A checkpoint the storage refuses (full, read-only) is skipped, not fatal: processing
   * goes on from the log, the previous checkpoint stays the restore point, the log keeps
   * what it needs, and the next try comes after a backoff. Other errors still throw.
   */
  async checkpoint(): Promise<void> {
    const started = performance.now();
    await this.sink.flush();
    let bytes = 0;
    let refused: unknown;
    const id = this.nextCheckpointId++;
    for (const task of this.tasks) {
      const checkpoint = await task.snapshot(id, { fullEvery: this.config.checkpoint.fullEvery });
      bytes += checkpoint.state.byteLength;
      try {
        await this.store.write(checkpoint);
      } catch (err) {
        if (storageErrno(err) === undefined) throw err;
        task.snapshotNotWritten();
        refused = err;
        continue;
      }
      // Trim only below every checkpoint the store keeps: a fallback to any of them must still find its records.
      const trimTo = await this.store.trimOffset(task.partition);
      if (trimTo !== undefined && trimTo > (await this.deps.log.startOffset(task.partition))) {
        // A trim the storage refuses is reported by the log's owner and tried again after the next checkpoint.
        await this.deps.log.trim(task.partition, trimTo).catch((err: unknown) => {
          if (storageErrno(err) === undefined) throw err;
        });
      }
    }
    if (refused !== undefined) {
      this.health.failed('checkpoint', refused);
      this.checkpointRetryAt = Date.now() + this.checkpointBackoff.next();
    } else {
      this.health.recovered('checkpoint');
      this.checkpointBackoff.reset();
      this.checkpointRetryAt = 0;
    }
    for (const task of this.tasks) {
      this.metrics.messages.inc(task.stats.messages);
      this.metrics.duplicates.inc(task.stats.duplicates);
      this.metrics.late.inc(task.stats.late);
      task.stats.messages = task.stats.duplicates = task.stats.late = 0;
    }
    this.lastCheckpointAt = Date.now();
    this.metrics.checkpointSeconds.observe((performance.now() - started) / 1000);
    this.metrics.checkpointBytes.set(bytes);
  }

  /** Stops processing, takes a last checkpoint when InfluxDB allows, and closes the sink. */
  async stop(options: { checkpoint?: boolean; timeoutMs?: number } = {}): Promise<void> {
    this.running = false;
    this.wake?.();
    if (this.loop === undefined) {
      // Never started (its restore failed): nothing was emitted, there is nothing to save.
      this.writer.close();
      await this.sink.close();
      return;
    }
    // With InfluxDB down, a checkpoint's pre-commit flush (the loop's, or the final one)
    // would wait forever. Give both a deadline; nothing is lost by giving up: the last
    // checkpoint and the log still hold everything the next start replays.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), options.timeoutMs ?? 10_000)));
    let clean = await Promise.race([this.loop.then(() => true), deadline]);
    if (clean && this.started && options.checkpoint !== false) {
      const final = this.checkpoint().then(
        () => true,
        (err: unknown) => {
          this.deps.logger.warn({ err: (err as Error).message }, 'final checkpoint failed');
          return false;
        },
      );
      clean = await Promise.race([final, deadline]);
    }
    clearTimeout(timer);
    if (!clean) this.deps.logger.warn('stopping without a final checkpoint: InfluxDB did not take the last points in time; the next start replays them');
    this.writer.close(); // ends any retrying write, so a stuck flush settles
    await this.loop;
    await this.sink.close();
  }
}
