/**
 * The group-commit loop. Appends to every partition join one queue; each round writes the
 * whole queue to the commit log with one writev, makes it durable with ONE fdatasync
 * (however many partitions it touched), then indexes the records and resolves them in
 * order. Appends made during a round wait for the next one. Index checkpoints are
 * snapshotted here, between rounds, so their position and per-partition ends agree.
 *
 * A full disk, a quota or a read-only filesystem (core/storage.ts) does not fail the log:
 * the round's appends stay queued, unresolved (so nothing is acknowledged), the bytes the
 * round wrote are cut off, and the round is retried with backoff until the storage takes
 * it; then everything queued meanwhile goes in one round. A failed fsync still fails the
 * log for good (see `fail`).
 */
import { Backoff } from '../core/backoff.js';
import { SluiceError } from '../core/errors.js';
import { StorageUnavailableError, storageErrno } from '../core/storage.js';
import type { StorageHealth } from '../core/storage-health.js';
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
  /** Where the commit log must be cut back to before the next write: a failed round's start. */
  private cutTo: number | undefined;
  /** The last round failed on storage: the next waits out the backoff. */
  private retryingAppends = false;
  private readonly appendBackoff = new Backoff();
  private readonly indexBackoff = new Backoff();
  /** Wakes the pump from a backoff wait (close gives up retrying). */
  private wakeRetry: (() => void) | undefined;
  private indexRetry: NodeJS.Timeout | undefined;
  private givingUp: StorageUnavailableError | undefined;

  constructor(
    private readonly dir: string,
    private readonly commit: CommitLog,
    private readonly indexes: IndexSet,
    private readonly fsync: FsyncPolicy,
    private readonly stats: { rounds: number },
    private readonly health: StorageHealth,
  ) {}

  /** Whether appends are waiting for the storage to take them again. */
  get retrying(): boolean {
    return this.retryingAppends;
  }

  /**
   * Stops waiting for the storage (on close): the queued appends are rejected, never
   * acknowledged, so their devices send them again to the next process.
   */
  abandonRetries(): void {
    if (!this.retryingAppends) return;
    const episode = this.health.isFailing('log') ? 'storage still refuses writes' : 'closing';
    this.givingUp = new StorageUnavailableError('ENOSPC', `log at ${this.dir} closed while ${episode}; its unwritten appends were not acknowledged`);
    this.wakeRetry?.();
  }

  /** A background index flush failed: a storage condition is retried by the next index checkpoint, anything else fails the log. */
  indexFailed(err: unknown): void {
    if (storageErrno(err) === undefined) return this.fail(err);
    this.health.failed('log-index', err);
    this.retryIndexLater();
  }

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
    this.failure ??=
      cause === this.givingUp && this.givingUp
        ? this.givingUp // closed during a storage episode: nothing broke, the appends just never got in
        : new SluiceError('SLUICE_LOG_FAILED', `log at ${this.dir} failed to write or fsync; reopen it to recover`, { cause });
    this.checkpointWanted = false;
    const dropped = [...this.inFlight, ...this.queue];
    this.inFlight = [];
    this.queue = [];
    for (const entry of dropped) entry.reject(this.failure);
    for (const waiter of this.checkpointWaiters.splice(0)) waiter.reject(this.failure);
    clearTimeout(this.indexRetry);
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        // One macrotask hop per round (not per append) lets a burst of appends join it.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.givingUp) return this.fail(this.givingUp);
        if (this.retryingAppends) await this.waitBeforeRetry();
        if (this.givingUp) return this.fail(this.givingUp);
        if (this.queue.length > 0) await this.round();
        else if (!this.checkpointWanted) return;
        if (this.checkpointWanted && !this.failure) await this.startCheckpoint();
      }
    } finally {
      this.pumping = null;
    }
  }

  private async round(): Promise<void> {
    if (this.cutTo !== undefined && !(await this.cut(this.cutTo))) return;
    const batch = (this.inFlight = this.queue);
    this.queue = [];
    const from = this.commit.end;
    this.stats.rounds++;
    try {
      await this.commit.write(batch);
      // Under O_DSYNC the write was the sync; otherwise one fdatasync covers the round.
      if (this.fsync !== 'never' && !this.commit.durableWrites) await this.commit.sync();
    } catch (err) {
      if (storageErrno(err) === undefined || this.failure) return this.fail(err);
      // Not acknowledged, not dropped: the same appends go first in the next round, in order.
      this.inFlight = [];
      this.queue = batch.concat(this.queue);
      this.retryingAppends = true;
      this.cutTo = from;
      this.health.failed('log', err);
      await this.cut(from); // at once: it gives back the space the failed write took
      return;
    }
    if (this.failure) return; // a background index failure already rejected this round
    this.retryingAppends = false;
    this.appendBackoff.reset();
    this.health.recovered('log');
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

  /** Cuts off what a failed round wrote; false while the storage refuses that too (read-only). */
  private async cut(pos: number): Promise<boolean> {
    try {
      await this.commit.rewind(pos);
    } catch (err) {
      if (storageErrno(err) === undefined) this.fail(err);
      else this.health.failed('log', err);
      return false;
    }
    this.cutTo = undefined;
    return true;
  }

  /** Waits out the backoff before retrying a round the storage refused; close wakes it early. */
  private async waitBeforeRetry(): Promise<void> {
    const delay = this.appendBackoff.next();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delay);
      this.wakeRetry = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeRetry = undefined;
  }

  /** Asks for an index checkpoint after the index backoff (it flushes every index, so it retries a failed flush too). */
  private retryIndexLater(): void {
    if (this.indexRetry !== undefined || this.failure) return;
    this.indexRetry = setTimeout(() => {
      this.indexRetry = undefined;
      if (this.failure) return;
      this.checkpointWanted = true;
      this.pumping ??= this.pump();
    }, this.indexBackoff.next());
    this.indexRetry.unref();
  }

  /** Stops the index retry timer (close). */
  stopIndexRetries(): void {
    clearTimeout(this.indexRetry);
    this.indexRetry = undefined;
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
      () => {
        this.indexBackoff.reset();
        this.health.recovered('log-index');
        waiters.forEach((w) => w.resolve());
      },
      (err: unknown) => {
        if (storageErrno(err) !== undefined && !this.failure) {
          // Only bounds the repair work of the next open: retried later, the log goes on.
          this.health.failed('log-index', err);
          this.retryIndexLater();
          return waiters.forEach((w) => w.reject(err));
        }
        this.fail(err);
        waiters.forEach((w) => w.reject(this.failure));
      },
    );
  }
}
