/**
 * FileLog: the durable embedded log, as one shared commit log plus per-partition indexes
 * (RocketMQ's CommitLog + ConsumeQueue). Layout under `<dir>`: meta.json, trim.json,
 * commit/<base position, 20 digits>.seg, index/<ppp>.idx, index/checkpoint.json.
 *
 * Appends go through the group-commit loop (group-commit.ts): one writev and ONE fdatasync
 * per round, however many partitions it touched. Reads look positions up in the
 * partition's index and pread the commit log (reader.ts); trims persist start offsets
 * (trims.ts) and free what no partition needs (reclaimer.ts); open repairs the indexes
 * from the commit log (recovery.ts).
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConfigError, LogOffsetError, SluiceError } from '../core/errors.js';
import { storageErrno } from '../core/storage.js';
import { StorageHealth } from '../core/storage-health.js';
import { CommitLog, type RecoveryNote } from './commit-log.js';
import { parseLogConfig, type LogConfig, type LogConfigInput } from './config.js';
import { syncDir } from './files.js';
import { GroupCommit } from './group-commit.js';
import { IndexSet } from './index-set.js';
import type { Log, LogRecord } from './log.js';
import { checkMeta } from './meta.js';
import { readRecords } from './reader.js';
import { recover } from './recovery.js';
import { Reclaimer } from './reclaimer.js';
import { checkPayload } from './record.js';
import { TrimState } from './trims.js';

/** Where the log lives and how many partitions it has, plus its config (see config.ts). */
export interface FileLogOptions extends LogConfigInput {
  dir: string;
  /** Fixed for the log's lifetime; 1..1000 (index files are named with 3 digits). */
  partitions: number;
  /** Where storage failures are reported (components `log`, `log-index`, `log-trim`); default: counted nowhere. */
  health?: StorageHealth;
}

/** Counters of a FileLog's work since it was opened. */
export interface FileLogStats {
  appends: number;
  /** Commit-log fdatasyncs: one per round, plus one per segment roll. */
  fsyncs: number;
  /** Group-commit rounds; appends / rounds is the mean group size. */
  rounds: number;
  /** Index-file fdatasyncs, made only by checkpoints (off the append path). */
  indexFsyncs: number;
  /** Index checkpoints written: after segment rolls, compactions and on close. */
  checkpoints: number;
}

const MAX_PARTITIONS = 1000;

export class FileLog implements Log {
  private closing: Promise<void> | null = null;
  /** Trims under way; close lets them finish before it closes the files. */
  private readonly trimming = new Set<Promise<void>>();
  private readonly writer: GroupCommit;
  private readonly reclaimer: Reclaimer;

  private constructor(
    readonly dir: string,
    readonly partitions: number,
    readonly config: LogConfig,
    /** The torn tail cut off the newest commit segment while opening; empty after a clean shutdown. */
    readonly recovery: readonly RecoveryNote[],
    private readonly commit: CommitLog,
    private readonly indexes: IndexSet,
    private readonly trims: TrimState,
    /** The offset each partition's next append gets. */
    private readonly nextOffsets: number[],
    /** Counters for tests and metrics. */
    readonly stats: FileLogStats,
    private readonly health: StorageHealth,
  ) {
    this.writer = new GroupCommit(dir, commit, indexes, config.fsync, stats, health);
    this.reclaimer = new Reclaimer(commit, indexes.parts, trims.starts, () => this.writer.requestCheckpoint());
  }

  /** Opens the log at `options.dir`, creating it if needed, cutting a torn tail and repairing the indexes. */
  static async open(options: FileLogOptions): Promise<FileLog> {
    const { dir, partitions, health = new StorageHealth(), ...rest } = options;
    const config = parseLogConfig(rest);
    if (typeof dir !== 'string' || dir === '') throw new ConfigError(`log.dir: expected a folder path (got ${JSON.stringify(dir)})`);
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
      throw new ConfigError(`log.partitions: expected an integer 1..${MAX_PARTITIONS} (got ${JSON.stringify(partitions)})`);
    }
    await makeDir(dir);
    await checkMeta(dir, partitions);
    const [commitDir, indexDir] = [join(dir, 'commit'), join(dir, 'index')];
    await makeDir(commitDir);
    await makeDir(indexDir);
    const stats: FileLogStats = { appends: 0, fsyncs: 0, rounds: 0, indexFsyncs: 0, checkpoints: 0 };
    const trims = await TrimState.open(dir, partitions);
    const ckpt = await IndexSet.readCheckpoint(indexDir, partitions);
    const commit = await CommitLog.open(commitDir, config.segmentBytes, stats, config.fsync !== 'never');
    const recovered = await recover(commit, indexDir, trims.starts, ckpt).catch(async (err: unknown) => {
      await commit.close();
      throw err;
    });
    trims.settle(recovered.starts);
    const indexes = new IndexSet(indexDir, recovered.indexes, stats, (err) => log.writer.indexFailed(err));
    const note = recovered.note ? [recovered.note] : [];
    const ends = recovered.indexes.map((idx) => idx.end);
    const log = new FileLog(dir, partitions, config, note, commit, indexes, trims, ends, stats, health);
    try {
      if (recovered.changed) {
        // What the scan found may never have been fsynced by the process that wrote it.
        await commit.active.sync();
        // On a full disk the checkpoint waits: it only spares the next open a rescan.
        await indexes.checkpoint(commit.resolvedEnd, [...ends]).catch((err: unknown) => {
          if (storageErrno(err) === undefined) throw err;
          log.writer.indexFailed(err);
        });
      }
      // Finishes deletes a crash interrupted between writing trim.json and unlinking.
      await log.reclaimer.reclaim().catch((err: unknown) => {
        if (storageErrno(err) === undefined) throw err;
        health.failed('log-trim', err); // a read-only disk: the next trim deletes them
      });
    } catch (err) {
      await log.close().catch(() => undefined);
      throw err;
    }
    return log;
  }

  /**
   * Appends one record; resolves with its offset once durable under the fsync policy.
   * The log keeps `payload` (reads at the head are answered with it): do not change it after.
   */
  append(partition: number, payload: Uint8Array): Promise<number> {
    try {
      this.assertOpen();
      this.checkPartition(partition);
      const refusal = checkPayload(payload);
      if (refusal) throw new SluiceError('SLUICE_LOG_RECORD_INVALID', `partition ${partition}: ${refusal}`);
      return new Promise<number>((resolve, reject) => {
        this.writer.enqueue({ partition, offset: this.nextOffsets[partition]!++, payload, position: -1, resolve, reject });
        this.stats.appends++;
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Records from `fromOffset` on (at most `maxRecords`) whose appends have resolved: the
   * newest from memory, older ones read from the files. Payloads are the log's: read-only. Offsets here are dense, so a `fromOffset` past the end offset is
   * refused (LogOffsetError) rather than answered empty: no reader of this log can have
   * been handed it, and waiting there would skip the records appended below it (a
   * checkpoint kept while the log directory was deleted).
   */
  async read(partition: number, fromOffset: number, maxRecords = 1000): Promise<LogRecord[]> {
    this.assertOpen();
    this.checkPartition(partition);
    const start = this.trims.starts[partition]!;
    if (!Number.isSafeInteger(fromOffset) || fromOffset < start) {
      throw new LogOffsetError(`partition ${partition}: offset ${fromOffset} is below the start offset ${start} (trimmed)`);
    }
    if (fromOffset > this.nextOffsets[partition]!) {
      throw new LogOffsetError(`partition ${partition}: offset ${fromOffset} is past the end offset ${this.nextOffsets[partition]}`);
    }
    const idx = this.indexes.parts[partition]!;
    const n = Math.min(Math.floor(maxRecords), idx.end - fromOffset);
    if (!(n > 0)) return [];
    return readRecords(this.commit, partition, fromOffset, await idx.positions(fromOffset, n));
  }

  /** Drops records below `upToOffset`: persisted in trim.json; commit segments no partition needs are deleted. */
  async trim(partition: number, upToOffset: number): Promise<void> {
    this.assertOpen();
    this.checkPartition(partition);
    const end = this.indexes.parts[partition]!.end;
    if (!Number.isSafeInteger(upToOffset) || upToOffset < 0 || upToOffset > end) {
      throw new LogOffsetError(`partition ${partition}: cannot trim to ${upToOffset}; only offsets up to ${end} are durable`);
    }
    if (upToOffset <= this.trims.starts[partition]!) return;
    const run = (async () => {
      // The start offset is durable before any file goes; open() finishes an interrupted delete.
      try {
        await this.trims.raise(partition, upToOffset);
        await this.reclaimer.reclaim();
      } catch (err) {
        // The caller trims again after its next checkpoint; nothing is lost by keeping records longer.
        if (storageErrno(err) !== undefined) this.health.failed('log-trim', err);
        throw err;
      }
      this.health.recovered('log-trim');
    })();
    this.trimming.add(run);
    try {
      await run;
    } finally {
      this.trimming.delete(run);
    }
  }

  /** Rejects the appends waiting for a full or read-only disk (never acknowledged: devices send them again); for a stop. */
  abandonRetries(): void {
    this.writer.abandonRetries();
  }

  /**
   * The offset the next append to `partition` will get. Not part of Log (a remote log's
   * offsets are not dense): the LogServer publishes it to processor workers, and tests read it.
   */
  endOffset(partition: number): number {
    this.checkPartition(partition);
    return this.nextOffsets[partition]!;
  }

  /** The lowest offset of `partition` still readable: the last trim point (0 before any trim). */
  async startOffset(partition: number): Promise<number> {
    this.checkPartition(partition);
    return this.trims.starts[partition]!;
  }

  /** Readable records (appends that resolved) from `fromOffset` on: offsets are dense, so a subtraction. */
  async pending(partition: number, fromOffset: number): Promise<number> {
    this.checkPartition(partition);
    return Math.max(0, this.indexes.parts[partition]!.end - Math.max(fromOffset, this.trims.starts[partition]!));
  }

  /**
   * Waits for queued appends to become durable, checkpoints the indexes, then closes every
   * file; idempotent. Appends waiting for a full or read-only disk are rejected instead.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        // Trims started before close finish; a reclaim may ask the pump for a checkpoint
        // (compaction): drain all three until quiet.
        // Appends the storage still refuses are given up: rejected, never acknowledged.
        this.abandonRetries();
        this.writer.stopIndexRetries();
        do {
          await Promise.allSettled(this.trimming);
          await this.writer.drain();
          await this.reclaimer.idle();
        } while (this.writer.busy || this.trimming.size > 0);
        if (!this.writer.failure) {
          if (this.config.fsync === 'never') await this.commit.sync();
          await this.indexes.checkpoint(this.commit.resolvedEnd, this.indexes.parts.map((idx) => idx.end)).catch((err: unknown) => {
            // Without it the next open repairs the indexes from the commit log: slower, not wrong.
            if (storageErrno(err) === undefined) throw err;
          });
        }
      } finally {
        await this.indexes.close();
        await this.commit.close();
      }
    })();
    return this.closing;
  }

  private assertOpen(): void {
    if (this.writer.failure) throw this.writer.failure;
    if (this.closing) throw new SluiceError('SLUICE_LOG_CLOSED', `log at ${this.dir} is closed`);
  }

  private checkPartition(partition: number): void {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw new LogOffsetError(`partition ${partition} does not exist; the log has partitions 0..${this.partitions - 1}`);
    }
  }
}

/** Creates `dir` if needed; a new folder's own entry is fsynced, or a crash could lose it whole. */
async function makeDir(dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true });
  if (created !== undefined) await syncDir(dirname(created));
}
