/**
 * Gives back the space trims free: deletes commit segments that no partition still needs
 * and marks index files worth compacting. A commit segment holds records of every
 * partition, so it can go only when, for every partition, the first retained record lies
 * beyond the segment's end. Runs one at a time.
 */
import type { CommitLog } from './commit-log.js';
import { MISSING, type PartitionIndex } from './partition-index.js';

/**
 * Compact an index once its trimmed prefix is this many entries (1 MiB) and at least as
 * long as the live part: the copy then costs at most as much as the space it frees.
 */
const COMPACT_MIN_ENTRIES = 128 * 1024;

export class Reclaimer {
  private running: Promise<void> = Promise.resolve();
  /** Per partition: the commit position of its first retained record, for the start offset it was looked up at. */
  private readonly retained: ({ start: number; position: number } | undefined)[] = [];

  constructor(
    private readonly commit: CommitLog,
    private readonly indexes: readonly PartitionIndex[],
    /** Durable start offsets, updated in place by trims. */
    private readonly starts: readonly number[],
    /** Takes a checkpoint, which is where marked compactions run. */
    private readonly checkpoint: () => Promise<void>,
  ) {}

  /** Deletes what the current start offsets free and compacts indexes that need it. */
  reclaim(): Promise<void> {
    const run = this.running.then(() => this.reclaimNow());
    this.running = run.catch(() => undefined);
    return run;
  }

  /** Resolves once no reclaim is running. */
  async idle(): Promise<void> {
    await this.running;
  }

  private async reclaimNow(): Promise<void> {
    // Records resolved after this point lie at or beyond it, so no later append can be
    // in a segment this pass deletes, whatever the partitions look like by then.
    let limit = this.commit.resolvedEnd;
    let compact = false;
    for (const [p, idx] of this.indexes.entries()) {
      const start = this.starts[p]!;
      if (start >= idx.end) continue; // nothing retained: the partition needs no segment
      limit = Math.min(limit, await this.firstRetained(p, start));
      if (idx.compactTo === undefined && start - idx.base >= Math.max(COMPACT_MIN_ENTRIES, idx.end - start)) {
        idx.compactTo = start;
        compact = true;
      }
    }
    await this.commit.deleteBelow(limit);
    if (compact) await this.checkpoint();
  }

  private async firstRetained(p: number, start: number): Promise<number> {
    const cached = this.retained[p];
    if (cached?.start === start) return cached.position;
    const position = await this.indexes[p]!.entryAt(start);
    // A record the commit log lost: keep everything rather than guess what is still needed.
    if (position === MISSING) return this.commit.start;
    this.retained[p] = { start, position };
    return position;
  }
}
