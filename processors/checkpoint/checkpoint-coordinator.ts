import { Backoff, SluiceError, storageErrno, type StorageHealth } from '../../core/index.js';
import type { Log } from '../../log/index.js';
import { CheckpointFencedError } from '../errors.js';
import type { PartitionCheckpoint } from './checkpoint-file.js';
import type { CheckpointStore } from './checkpoint-store.js';

/** What the coordinator needs of a partition task (PartitionTask has it). */
export interface CheckpointParticipant {
  readonly partition: number;
  /** The task's state and next offset; every point that state emitted must be in the sink already (the commit flushes them). */
  snapshot(id: number, options: { fullEvery?: number }): Promise<PartitionCheckpoint>;
  /** The snapshot just taken was not written: the task's next one must be full. */
  snapshotNotWritten(): void;
}

export interface CheckpointCoordinatorDeps {
  /** Trimmed below the oldest checkpoint the store keeps, once a checkpoint is written. */
  log: Pick<Log, 'trim' | 'startOffset'>;
  store: CheckpointStore;
  /**
   * The pre-commit: resolves once every point emitted so far is durable in InfluxDB (the
   * sink's flush). Until then a checkpoint would name an offset whose points could be lost.
   */
  flush: () => Promise<void>;
  /** Where a write the storage refuses is reported (component `checkpoint`), for /readyz. */
  health: StorageHealth;
  /** `checkpoint.interval` in ms. */
  intervalMs: number;
  /** `checkpoint.fullEvery`: every this many checkpoints of a partition one is full. */
  fullEvery: number;
  /**
   * True when partitions move between processors by lease (issue 14): a fenced partition is
   * then reported in the outcome for its owner to let go. False (static partitions): another
   * processor was given the same partitions, a mistake to stop on, so the error is thrown.
   */
  fencedIsRecoverable?: boolean;
  /**
   * Whether `partition`'s output has been discarded (its lease was lost): its state is then
   * not committed, since the points it fired were never written and its next owner must
   * fire them again from the checkpoint before. Asked at the barrier and again after the flush.
   */
  outputDiscarded?: (partition: number) => boolean;
  /** Injected for tests. */
  now?: () => number;
  /** Injected for tests: the wait after a refused write (default 100 ms doubling to 5 s, jittered). */
  backoff?: Backoff;
}

/** A checkpoint's snapshots, taken at one point of processing and not yet committed (CheckpointCoordinator.snapshot). */
export interface CheckpointBarrier {
  readonly id: number;
  /** Some partitions only: the interval clock of the others keeps running. */
  readonly partial: boolean;
  readonly snapshots: { task: CheckpointParticipant; checkpoint: PartitionCheckpoint }[];
  /** Partitions left out because their output was discarded. */
  readonly discarded: number[];
  /** Snapshot bytes. */
  bytes: number;
}

/** What one checkpoint did. */
export interface CheckpointOutcome {
  id: number;
  /** Partitions whose checkpoint was written: their new restore point. */
  written: number[];
  /** Partitions whose write the storage refused: their previous checkpoint stays the restore point, nothing trimmed. */
  refused: number[];
  /** Partitions another processor has claimed (CheckpointFencedError): nothing committed or trimmed; this processor must let them go. */
  fenced: number[];
  /** Partitions whose output was discarded (see outputDiscarded): not committed. */
  discarded: number[];
  /** Snapshot bytes, written or not. */
  bytes: number;
}

/**
 * Flink's CheckpointCoordinator, for the tasks of one ProcessorNode: snapshot each task (the
 * barrier), flush the sink (the pre-commit), commit the snapshots to the CheckpointStore
 * together, then trim the log below the oldest checkpoint the store keeps, so a fallback to
 * any kept checkpoint still finds its records. The caller serialises the barrier with
 * processing (a task must not move while it is snapshot); the commit may run beside it,
 * as Flink's asynchronous part of a checkpoint does: waiting for InfluxDB to take a window
 * close's points (seconds under load) then holds up nothing but the commit.
 *
 * A write the storage refuses (full, read-only) is skipped, not fatal: the previous
 * checkpoint stays the restore point, that partition is not trimmed, processing goes on
 * from the log, and `due` says no until a backoff has passed, not the whole interval.
 * Any other error throws: it is a bug, and the owner decides.
 */
export class CheckpointCoordinator {
  private nextId: number;
  private lastAt: number;
  private retryAt = 0;
  private readonly now: () => number;
  private readonly backoff: Backoff;

  constructor(private readonly deps: CheckpointCoordinatorDeps) {
    this.now = deps.now ?? Date.now;
    this.backoff = deps.backoff ?? new Backoff(100, 5000);
    // Ids are times, so they grow across restarts as well as within one run.
    this.nextId = this.now();
    this.lastAt = this.now();
  }

  /** Notes a checkpoint id restored from the store: new ids go past it, so no new file takes an existing one's name. */
  restored(id: number): void {
    this.nextId = Math.max(this.nextId, id + 1);
  }

  /** Whether to checkpoint now: the interval has passed (or `pressing`: the sink is full), and no storage backoff runs. */
  due(pressing = false): boolean {
    const now = this.now();
    return (pressing || now - this.lastAt >= this.deps.intervalMs) && now >= this.retryAt;
  }

  /**
   * Snapshots, flushes, writes and commits `tasks` (see snapshot() and commit()), then
   * trims the written ones. `partial`: a checkpoint of some partitions only (a revoke's
   * final one), which leaves the interval clock of the others running.
   */
  async checkpoint(tasks: readonly CheckpointParticipant[], options: { partial?: boolean } = {}): Promise<CheckpointOutcome> {
    return this.commit(await this.snapshot(tasks, options));
  }

  /**
   * The barrier: snapshots each of `tasks` in turn (their state and next offset), but not a
   * partition whose output was discarded. Every point their state has emitted is in the
   * sink by now, so the caller may go on processing as soon as this resolves: commit()
   * flushes what it needs. The tasks must not move while this runs.
   */
  async snapshot(tasks: readonly CheckpointParticipant[], options: { partial?: boolean } = {}): Promise<CheckpointBarrier> {
    const barrier: CheckpointBarrier = { id: this.nextId++, partial: options.partial === true, snapshots: [], discarded: [], bytes: 0 };
    for (const task of tasks) {
      if (this.deps.outputDiscarded?.(task.partition)) {
        barrier.discarded.push(task.partition);
        continue;
      }
      const checkpoint = await task.snapshot(barrier.id, { fullEvery: this.deps.fullEvery });
      barrier.bytes += checkpoint.state.byteLength;
      barrier.snapshots.push({ task, checkpoint });
    }
    return barrier;
  }

  /**
   * Makes a barrier's snapshots the restore point: flushes the sink (the pre-commit: once it
   * resolves, every point emitted before the barrier is durable, whatever was emitted
   * since), then writes the snapshots in one write of the store and commits it, then
   * trims the written partitions together. A partition whose output was discarded
   * meanwhile (its lease lost during the flush) is not written. Not re-entrant: one
   * barrier at a time, committed before the next is taken.
   */
  async commit(barrier: CheckpointBarrier): Promise<CheckpointOutcome> {
    try {
      await this.deps.flush();
    } catch (err) {
      // Nothing written: each task's next snapshot must be full (its change tracking moved on at the barrier).
      for (const { task } of barrier.snapshots) task.snapshotNotWritten();
      throw err;
    }
    const outcome: CheckpointOutcome = { id: barrier.id, written: [], refused: [], fenced: [], discarded: [...barrier.discarded], bytes: barrier.bytes };
    let refusal: unknown;
    let fencedBy: CheckpointFencedError | undefined;
    const write = this.deps.store.begin(barrier.id);
    const added: CheckpointParticipant[] = [];
    for (const { task, checkpoint } of barrier.snapshots) {
      if (this.deps.outputDiscarded?.(task.partition)) {
        task.snapshotNotWritten();
        outcome.discarded.push(task.partition);
        continue;
      }
      try {
        await write.add(checkpoint);
        added.push(task);
      } catch (err) {
        if (err instanceof CheckpointFencedError) {
          task.snapshotNotWritten();
          outcome.fenced.push(task.partition);
          fencedBy ??= err;
          continue;
        }
        if (!isPassing(err)) throw err;
        task.snapshotNotWritten();
        outcome.refused.push(task.partition);
        refusal = err;
      }
    }
    try {
      await write.commit();
      outcome.written.push(...added.map((t) => t.partition));
    } catch (err) {
      if (!isPassing(err)) throw err;
      for (const task of added) {
        task.snapshotNotWritten();
        outcome.refused.push(task.partition);
      }
      refusal = err;
    }
    await this.trimWritten(outcome.written);
    if (refusal !== undefined) {
      this.deps.health.failed('checkpoint', refusal);
      this.retryAt = this.now() + this.backoff.next();
    } else {
      this.deps.health.recovered('checkpoint');
      this.backoff.reset();
      this.retryAt = 0;
    }
    if (!barrier.partial) this.lastAt = this.now();
    if (fencedBy !== undefined && !this.deps.fencedIsRecoverable) throw fencedBy;
    return outcome;
  }

  /**
   * Trims the partitions just written, all at once: a FileLog persists concurrent trims in
   * one trim.json write (TrimState), where a trim after each partition's write cost a write
   * and two fsyncs per partition (up to 64 a checkpoint), on the disk the log's own writes
   * wait for. A trim that fails for now is tried again after the next checkpoint: the log
   * keeps a little more meanwhile.
   */
  private async trimWritten(partitions: number[]): Promise<void> {
    const results = await Promise.allSettled(partitions.map((p) => this.trim(p)));
    for (const r of results) if (r.status === 'rejected' && !isPassing(r.reason)) throw r.reason;
  }

  /** Trims only below every checkpoint the store keeps: a fallback to any of them must still find its records. */
  private async trim(partition: number): Promise<void> {
    const trimTo = await this.deps.store.trimOffset(partition);
    if (trimTo === undefined || trimTo <= (await this.deps.log.startOffset(partition))) return;
    // A trim the storage refuses is reported by the log's owner and tried again after the next checkpoint.
    await this.deps.log.trim(partition, trimTo);
  }
}

/**
 * Storage that refuses writes for now (full, read-only) and a remote store or log that is
 * unreachable for now (a NATS leader election: canRetry) skip this checkpoint's write or
 * trim, not the process: the previous checkpoint stays the restore point.
 */
function isPassing(err: unknown): boolean {
  return storageErrno(err) !== undefined || (err instanceof SluiceError && err.canRetry);
}
