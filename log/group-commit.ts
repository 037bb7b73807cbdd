/**
 * The group-commit loop. Appends to every partition join one queue; each round writes the
 * whole queue to the commit log with one writev, makes it durable with ONE fdatasync
 * (however many partitions it touched), then indexes the records and resolves them in
 * order. Appends made during a round wait for the next one. Index checkpoints are
 * snapshotted here, between rounds, so their position and per-partition ends agree.
 */
import { SluiceError } from '../core/errors.js';
import type { CommitEntry, CommitLog } from './commit-log.js';
import type { IndexSet } from './index-set.js';
import type { FsyncPolicy } from './log.js';

/** An append waiting to be written and made durable. */
export interface Pending extends CommitEntry {
  resolve: (offset: number) => void;
  reject: (err: unknown) => void;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class GroupCommit {
  /** Set once a write, fsync or index write failed; the log refuses everything after. */
  failure: SluiceError | null = null;
  private queue: Pending[] = [];
  private inFlight: Pending[] = [];
  private pumping: Promise<void> | null = null;
  private checkpointWanted = false;
  private checkpointWaiters: Waiter[] = [];

  constructor(
    private readonly dir: string,
    private readonly commit: CommitLog,
    private readonly indexes: IndexSet,
    private readonly fsync: FsyncPolicy,
    private readonly stats: { rounds: number },
  ) {}

  /** Queues `entry` for the next round. */
  enqueue(entry: Pending): void {
    this.queue.push(entry);
    this.pumping ??= this.pump();
  }

  /** Asks for an index checkpoint between rounds; resolves once it is written. */
  requestCheckpoint(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.checkpointWaiters.push({ resolve, reject });
      this.checkpointWanted = true;
      this.pumping ??= this.pump();
    });
  }

  /** Resolves once the queue is empty and no round runs. */
  async drain(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  /** Whether a round or a checkpoint snapshot is under way. */
  get busy(): boolean {
    return this.pumping !== null;
  }

  /**
   * Fails the log for good. Retrying a failed fsync is unsafe: Linux may drop the dirty
   * pages and report success next time, so a retry could acknowledge lost data.
   */
  fail(cause: unknown): void {
    this.failure ??= new SluiceError('SLUICE_LOG_FAILED', `log at ${this.dir} failed to write or fsync; reopen it to recover`, {
      cause,
    });
    this.checkpointWanted = false;
    const dropped = [...this.inFlight, ...this.queue];
    this.inFlight = [];
    this.queue = [];
    for (const entry of dropped) entry.reject(this.failure);
    for (const waiter of this.checkpointWaiters.splice(0)) waiter.reject(this.failure);
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        // One macrotask hop per round (not per append) lets a burst of appends join it.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.queue.length > 0) await this.round();
        else if (!this.checkpointWanted) return;
        if (this.checkpointWanted && !this.failure) await this.startCheckpoint();
      }
    } finally {
      this.pumping = null;
    }
  }

  private async round(): Promise<void> {
    const batch = (this.inFlight = this.queue);
    this.queue = [];
    this.stats.rounds++;
    try {
      await this.commit.write(batch);
      if (this.fsync !== 'never') await this.commit.sync();
    } catch (err) {
      return this.fail(err);
    }
    if (this.failure) return; // a background index failure already rejected this round
    this.inFlight = [];
    this.commit.resolvedEnd = this.commit.end;
    // Readable first (index entries), then resolved in order.
    for (const entry of batch) this.indexes.add(entry.partition, entry.position);
    for (const entry of batch) entry.resolve(entry.offset);
    if (this.commit.rolled) {
      // A segment is full: checkpoint, so an open never repairs more than about one segment.
      this.commit.rolled = false;
      this.checkpointWanted = true;
    }
  }

  /**
   * Snapshots (position, ends) and writes the checkpoint in the background. Under 'never'
   * the commit log is fsynced first: a checkpoint must not vouch for index entries whose
   * records a crash could still take back.
   */
  private async startCheckpoint(): Promise<void> {
    this.checkpointWanted = false;
    const waiters = this.checkpointWaiters;
    this.checkpointWaiters = [];
    try {
      if (this.fsync === 'never') await this.commit.sync();
    } catch (err) {
      this.fail(err);
      return waiters.forEach((w) => w.reject(this.failure));
    }
    const ends = this.indexes.parts.map((idx) => idx.end);
    this.indexes.checkpoint(this.commit.resolvedEnd, ends).then(
      () => waiters.forEach((w) => w.resolve()),
      (err: unknown) => {
        this.fail(err);
        waiters.forEach((w) => w.reject(this.failure));
      },
    );
  }
}
