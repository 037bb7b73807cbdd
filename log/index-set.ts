/**
 * The partition indexes together, and the checkpoint that bounds open-time repair.
 *
 * `<dir>/index/checkpoint.json` says: every index entry for a record below `position` is
 * durable in the index files, and `ends[p]` is partition p's end offset there. It is
 * written after a segment roll, a compaction and on close, so an open repairs at most
 * about one segment's worth of entries, however long the log is.
 *
 * Every index-file change (flush, rewrite, checkpoint) runs one at a time on `lock`, one
 * file operation at a time, so index work never crowds the commit log's writes out of
 * the libuv pool; adding entries and reading never wait for it.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { LogCorruptError } from '../core/errors.js';
import { readJsonChecked, syncDir, writeJsonAtomic } from './files.js';
import { FLUSH_ENTRIES, PartitionIndex } from './partition-index.js';

/** What checkpoint.json holds. */
export interface Checkpoint {
  position: number;
  ends: number[];
}

const checkpointSchema = z.object({
  version: z.literal(1),
  position: z.number().int().nonnegative(),
  ends: z.array(z.number().int().nonnegative()),
});

/** Counters the index set adds to the log's stats. */
export interface IndexStats {
  indexFsyncs: number;
  checkpoints: number;
}

export class IndexSet {
  private lock: Promise<unknown> = Promise.resolve();
  private due: number[] = [];
  private flushQueued = false;
  /** Index files were created or renamed since the folder was last fsynced. */
  private dirEntriesChanged = true;

  constructor(
    readonly dir: string,
    readonly parts: readonly PartitionIndex[],
    private readonly stats: IndexStats,
    /** Called when a background flush fails: the owner retries a storage condition, fails the log on anything else. */
    private readonly onError: (err: unknown) => void,
  ) {}

  /** The index file of partition `p` in `dir`. */
  static path(dir: string, p: number): string {
    return join(dir, `${String(p).padStart(3, '0')}.idx`);
  }

  /**
   * Reads checkpoint.json from `dir`; undefined when absent, unreadable or written for another
   * partition count. It only saves work: without it open rescans the whole commit log.
   */
  static async readCheckpoint(dir: string, partitions: number): Promise<Checkpoint | undefined> {
    const path = join(dir, 'checkpoint.json');
    const ckpt = await readJsonChecked(path, checkpointSchema, '{"version":1,"position":N,"ends":[...]}').catch((err: unknown) => {
      if (err instanceof LogCorruptError) return undefined;
      throw err;
    });
    return ckpt && ckpt.ends.length === partitions ? ckpt : undefined;
  }

  /** Records that partition `p`'s next record is at `position`; schedules a flush when enough wait. */
  add(p: number, position: number): void {
    const idx = this.parts[p]!;
    idx.add(position);
    if (idx.unflushed >= FLUSH_ENTRIES && !idx.flushDue) this.markDue(p);
  }

  private markDue(p: number): void {
    this.parts[p]!.flushDue = true;
    this.due.push(p);
    if (this.flushQueued) return;
    this.flushQueued = true;
    this.run(async () => {
      this.flushQueued = false;
      const due = this.due;
      this.due = [];
      for (const [i, q] of due.entries()) {
        const idx = this.parts[q]!;
        try {
          await idx.flush();
        } catch (err) {
          // Not flushed, still in memory: a later flush or checkpoint writes them (a full disk is waited out).
          for (const r of due.slice(i)) this.parts[r]!.flushDue = false;
          throw err;
        }
        idx.flushDue = false;
        // Entries that piled up during the write go next, or the tail could outgrow its bound.
        if (idx.unflushed >= FLUSH_ENTRIES) this.markDue(q);
      }
    }).catch(this.onError);
  }

  /**
   * Makes the indexes durable for every record below commit-log `position`, where
   * partition p's index ends at `ends[p]` (the caller snapshots both at once, with that
   * prefix of the commit log already durable): flush every index, run pending compactions,
   * fsync what changed, then write checkpoint.json.
   */
  checkpoint(position: number, ends: readonly number[]): Promise<void> {
    return this.run(async () => {
      for (const idx of this.parts) {
        if (idx.headerStale) await idx.rewrite(idx.base);
      }
      for (const idx of this.parts) await idx.flush();
      for (const idx of this.parts) {
        if (idx.compactTo === undefined) continue;
        await idx.rewrite(idx.compactTo);
        idx.compactTo = undefined;
        this.dirEntriesChanged = true;
      }
      // One at a time: the libuv pool is shared with the commit log's writev and fdatasync,
      // and a burst of index fsyncs queued ahead of a round's would stall its appends.
      for (const idx of this.parts) {
        if (await idx.sync()) this.stats.indexFsyncs++;
      }
      if (this.dirEntriesChanged) {
        this.dirEntriesChanged = false;
        await syncDir(this.dir);
      }
      await writeJsonAtomic(join(this.dir, 'checkpoint.json'), { version: 1, position, ends });
      this.stats.checkpoints++;
    });
  }

  /** Closes every index file; call after the last checkpoint. */
  async close(): Promise<void> {
    await this.run(() => Promise.all(this.parts.map((idx) => idx.close())));
  }

  private run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.lock.then(fn);
    this.lock = result.catch(() => undefined);
    return result;
  }
}
