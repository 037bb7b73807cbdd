/**
 * FileLog: the durable embedded log. Layout: `<dir>/meta.json`, and per partition
 * `<dir>/<ppp>/<base offset, 20 digits>.seg` plus an optional `trim.json`.
 *
 * Appends queue per partition and are written by one group-commit loop: each round
 * writes every partition's queue with one writev, fsyncs each dirty segment once, then
 * resolves the round's appends in offset order. Appends made during a round wait for
 * the next one, so a burst costs one fsync per dirty file, not one per append.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { ConfigError, LogCorruptError, LogOffsetError, SluiceError } from '../core/errors.js';
import { parseLogConfig, type LogConfig, type LogConfigInput } from './config.js';
import { readJsonIfExists, syncDir, writeJsonAtomic } from './files.js';
import type { Log, LogRecord } from './log.js';
import { Partition, type RecoveryNote } from './partition.js';
import { checkPayload } from './record.js';

/** Where the log lives and how many partitions it has, plus its config (see config.ts). */
export interface FileLogOptions extends LogConfigInput {
  dir: string;
  /** Fixed for the log's lifetime; 1..1000 (partition folders are named with 3 digits). */
  partitions: number;
}

/** Counters of a FileLog's work since it was opened. */
export interface FileLogStats {
  appends: number;
  fsyncs: number;
  /** Group-commit rounds; appends / rounds is the mean group size. */
  rounds: number;
}

const MAX_PARTITIONS = 1000;
const metaSchema = z.object({ version: z.literal(1), partitions: z.number().int().positive() });

export class FileLog implements Log {
  private pumping: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  private failure: SluiceError | null = null;

  private constructor(
    readonly dir: string,
    readonly partitions: number,
    readonly config: LogConfig,
    /** Torn tails cut off while opening; empty after a clean shutdown. */
    readonly recovery: readonly RecoveryNote[],
    private readonly parts: Partition[],
    /** Counters for tests and metrics; partitions add their own fsyncs, segment rolls included. */
    readonly stats: FileLogStats,
  ) {}

  /** Opens the log at `options.dir`, creating it if needed and recovering torn tails. */
  static async open(options: FileLogOptions): Promise<FileLog> {
    const { dir, partitions, ...rest } = options;
    const config = parseLogConfig(rest);
    if (typeof dir !== 'string' || dir === '') throw new ConfigError(`log.dir: expected a folder path (got ${JSON.stringify(dir)})`);
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
      throw new ConfigError(`log.partitions: expected an integer 1..${MAX_PARTITIONS} (got ${JSON.stringify(partitions)})`);
    }
    const created = await mkdir(dir, { recursive: true });
    if (created !== undefined) await syncDir(dirname(created));
    await checkMeta(dir, partitions);
    const stats: FileLogStats = { appends: 0, fsyncs: 0, rounds: 0 };
    const recovery: RecoveryNote[] = [];
    const parts: Partition[] = [];
    try {
      for (let p = 0; p < partitions; p++) {
        const partDir = join(dir, String(p).padStart(3, '0'));
        parts.push(await Partition.open({ partition: p, dir: partDir, fsync: config.fsync, segmentBytes: config.segmentBytes, stats }, recovery));
      }
    } catch (err) {
      await Promise.all(parts.map((part) => part.close()));
      throw err;
    }
    return new FileLog(dir, partitions, config, recovery, parts, stats);
  }

  /**
   * Appends one record; resolves with its offset once durable under the fsync policy.
   * The log keeps a reference to `payload`: do not change it until the promise settles.
   */
  append(partition: number, payload: Uint8Array): Promise<number> {
    try {
      this.assertOpen();
      const part = this.part(partition);
      const refusal = checkPayload(payload);
      if (refusal) throw new SluiceError('SLUICE_LOG_RECORD_INVALID', `partition ${partition}: ${refusal}`);
      return new Promise<number>((resolve, reject) => {
        part.pending.push({ payload, offset: part.nextOffset++, resolve, reject });
        this.stats.appends++;
        this.pumping ??= this.pump();
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Records from `fromOffset` on (at most `maxRecords`) whose appends have resolved, read from the files. */
  async read(partition: number, fromOffset: number, maxRecords = 1000): Promise<LogRecord[]> {
    this.assertOpen();
    return this.part(partition).read(fromOffset, Math.max(0, Math.floor(maxRecords)));
  }

  /** Drops records below `upToOffset`: persisted in trim.json, whole segments below it deleted. */
  async trim(partition: number, upToOffset: number): Promise<void> {
    this.assertOpen();
    return this.part(partition).trim(upToOffset);
  }

  /** The offset the next append to `partition` will get. */
  endOffset(partition: number): number {
    return this.part(partition).nextOffset;
  }

  /** The lowest offset of `partition` still readable. */
  startOffset(partition: number): number {
    return this.part(partition).startOffset;
  }

  /** Waits for queued appends to become durable, then closes every file; idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      while (this.pumping) await this.pumping;
      await Promise.all(this.parts.map((part) => part.close()));
    })();
    return this.closing;
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        // One macrotask hop per round (not per append) lets a burst of appends join it.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const busy = this.parts.filter((part) => part.pending.length > 0);
        if (busy.length === 0) return;
        await this.round(busy);
      }
    } finally {
      this.pumping = null;
    }
  }

  private async round(busy: Partition[]): Promise<void> {
    this.stats.rounds++;
    const writes = await Promise.allSettled(busy.map((part) => part.writePending()));
    let failed = writes.find((w): w is PromiseRejectedResult => w.status === 'rejected');
    if (!failed && this.config.fsync !== 'never') {
      const syncs = await Promise.allSettled(busy.map((part) => part.sync()));
      failed = syncs.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    }
    if (failed) return this.fail(failed.reason);
    for (const part of busy) part.commit();
  }

  /**
   * Fails the log for good. Retrying a failed fsync is unsafe: Linux may drop the dirty
   * pages and report success next time, so a retry could acknowledge lost data.
   */
  private fail(cause: unknown): void {
    this.failure = new SluiceError('SLUICE_LOG_FAILED', `log at ${this.dir} failed to write or fsync; reopen it to recover`, {
      cause,
    });
    for (const part of this.parts) part.abandon(this.failure);
  }

  private assertOpen(): void {
    if (this.failure) throw this.failure;
    if (this.closing) throw new SluiceError('SLUICE_LOG_CLOSED', `log at ${this.dir} is closed`);
  }

  private part(partition: number): Partition {
    const part = Number.isInteger(partition) ? this.parts[partition] : undefined;
    if (!part) throw new LogOffsetError(`partition ${partition} does not exist; the log has partitions 0..${this.partitions - 1}`);
    return part;
  }
}

/** Records the partition count on first open and refuses to open with a different one. */
async function checkMeta(dir: string, partitions: number): Promise<void> {
  const path = join(dir, 'meta.json');
  let value: unknown;
  try {
    value = await readJsonIfExists(path);
  } catch (cause) {
    throw new LogCorruptError(`${path} is not valid JSON`, { cause });
  }
  if (value === undefined) return writeJsonAtomic(path, { version: 1, partitions });
  const meta = metaSchema.safeParse(value);
  if (!meta.success) throw new LogCorruptError(`${path} should hold {"version":1,"partitions":N}; found ${JSON.stringify(value)}`);
  if (meta.data.partitions !== partitions) {
    throw new ConfigError(
      `log.partitions: the log at ${dir} was created with ${meta.data.partitions} partitions (meta.json) and cannot be opened with ${partitions}; ` +
        'the partition count is fixed for a log’s lifetime — use the original count or a new dir',
    );
  }
}
