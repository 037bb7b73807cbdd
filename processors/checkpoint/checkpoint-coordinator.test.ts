import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageHealth } from '../../core/index.js';
import { tempDir } from '../../test/harness/temp-dir.js';
import { SequencedLog } from '../testing/sequenced-log.js';
import type { PartitionCheckpoint } from './checkpoint-file.js';
import { CheckpointFencedError } from '../errors.js';
import { CheckpointCoordinator, type CheckpointParticipant } from './checkpoint-coordinator.js';
import { LocalCheckpointStore } from './checkpoint-store.js';

/** A task that snapshots what the test sets: its offset, full or delta as PartitionTask decides. */
class FakeTask implements CheckpointParticipant {
  offset = 0;
  notWritten = 0;
  private last = 0;
  private deltas = 0;

  constructor(
    readonly partition: number,
    private readonly steps: string[],
  ) {}

  async snapshot(id: number, options: { fullEvery?: number }): Promise<PartitionCheckpoint> {
    this.steps.push(`snapshot ${this.partition}`);
    const full = this.last === 0 || this.deltas + 1 >= (options.fullEvery ?? 1);
    const checkpoint: PartitionCheckpoint = { partition: this.partition, id, kind: full ? 'full' : 'delta', base: full ? 0 : this.last, offset: this.offset, watermark: 0, state: new Uint8Array([1, 2, 3]), createdAtMs: 0 };
    this.last = id;
    this.deltas = full ? 0 : this.deltas + 1;
    return checkpoint;
  }

  snapshotNotWritten(): void {
    this.notWritten++;
    this.last = this.deltas = 0;
  }
}

const diskFull = (): Error => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

describe('CheckpointCoordinator', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let steps: string[];
  let log: SequencedLog;
  let clock: number;
  let refuseWrites: number;
  let refuseCommits: number;
  /** Each trim's start (`asked p`: the store asked for its trim point) and end (`trimmed p`). */
  let trimEvents: string[];
  let health: StorageHealth;

  beforeEach(async () => {
    dir = await tempDir('sluice-coordinator-');
    steps = [];
    log = new SequencedLog(2);
    for (let i = 0; i < 100; i++) await log.appendAmongAll(0, new Uint8Array([i]));
    clock = 1_000_000;
    refuseWrites = 0;
    refuseCommits = 0;
    trimEvents = [];
    health = new StorageHealth();
  });
  afterEach(() => dir.remove());

  /** A coordinator over a real LocalCheckpointStore whose writes the test can make the disk refuse, and a log whose trims are recorded. */
  function coordinator(options: { keep: number; fullEvery: number; flush?: () => Promise<void>; fence?: number; fencedIsRecoverable?: boolean; outputDiscarded?: (p: number) => boolean }) {
    const store = new LocalCheckpointStore(dir.path, options.keep);
    const recordingStore = {
      write: (c: PartitionCheckpoint) => store.write(c),
      begin: (id: number) => {
        const write = store.begin(id);
        return {
          add: async (c: PartitionCheckpoint) => {
            steps.push(`add ${c.partition}`);
            if (refuseWrites > 0 && refuseWrites--) throw diskFull();
            if (c.partition === options.fence) throw new CheckpointFencedError(c.partition, 1, 2, 'other-host:1:abc');
            await write.add(c);
          },
          commit: async () => {
            steps.push('commit');
            if (refuseCommits > 0 && refuseCommits--) throw diskFull();
            await write.commit();
          },
        };
      },
      restorable: (p: number) => store.restorable(p),
      trimOffset: (p: number) => {
        trimEvents.push(`asked ${p}`);
        return store.trimOffset(p);
      },
      problems: store.problems,
    };
    const recordingLog = {
      startOffset: (p: number) => log.startOffset(p),
      trim: async (p: number, upTo: number) => {
        steps.push(`trim ${p} ${upTo}`);
        await log.trim(p, upTo);
        trimEvents.push(`trimmed ${p}`);
      },
    };
    const flush =
      options.flush ??
      (async () => {
        steps.push('flush');
      });
    const c = new CheckpointCoordinator({ log: recordingLog, store: recordingStore, flush, health, intervalMs: 10_000, fullEvery: options.fullEvery, now: () => clock, fencedIsRecoverable: options.fencedIsRecoverable, outputDiscarded: options.outputDiscarded });
    return { c, store };
  }

  it('snapshots each partition (the barrier), flushes, then writes them in one write, commits it, then trims the written partitions together', async () => {
    let release!: () => void;
    const flushed = new Promise<void>((resolve) => (release = resolve));
    const { c } = coordinator({
      keep: 1,
      fullEvery: 1,
      flush: async () => {
        steps.push('flush');
        await flushed;
      },
    });
    const tasks = [new FakeTask(0, steps), new FakeTask(1, steps)];
    tasks[0]!.offset = 71; // sparse, as on JetStream
    tasks[1]!.offset = 8;
    const running = c.checkpoint(tasks);
    await new Promise((resolve) => setImmediate(resolve));
    expect(steps).toEqual(['snapshot 0', 'snapshot 1', 'flush']); // nothing is written before the pre-commit is done
    release();
    const outcome = await running;
    expect(steps.slice(0, 6)).toEqual(['snapshot 0', 'snapshot 1', 'flush', 'add 0', 'add 1', 'commit']);
    // Concurrent: in either order.
    expect(steps.slice(6).sort()).toEqual(['trim 0 71', 'trim 1 8']);
    // Issued together (both under way before either ends), so a FileLog persists them in
    // one trim.json write, not one per partition.
    expect(trimEvents.slice(0, 2).sort()).toEqual(['asked 0', 'asked 1']);
    expect(outcome).toMatchObject({ written: [0, 1], refused: [], bytes: 6 });
    expect(await log.startOffset(0)).toBe(71);
  });

  it('a write the storage refuses keeps the previous restore point, skips the trim, reports it, and waits a backoff', async () => {
    const { c, store } = coordinator({ keep: 1, fullEvery: 10 });
    const task = new FakeTask(0, steps);
    task.offset = 71;
    await c.checkpoint([task]);
    expect(await log.startOffset(0)).toBe(71);

    task.offset = 135;
    refuseWrites = 1;
    steps.length = 0;
    const outcome = await c.checkpoint([task]);
    expect(outcome).toMatchObject({ written: [], refused: [0] });
    expect(steps).toEqual(['snapshot 0', 'flush', 'add 0', 'commit']); // no trim
    expect(await log.startOffset(0)).toBe(71);
    const chain = await store.restorable(0);
    expect(chain.map((k) => [k.kind, k.offset])).toEqual([['full', 71]]);
    expect(task.notWritten).toBe(1);
    expect(health.isFailing('checkpoint')).toBe(true);
    // Not at once, even with the sink full; after the backoff (at most 5 s), yes.
    expect(c.due(true)).toBe(false);
    clock += 5_000;
    expect(c.due(true)).toBe(true);

    steps.length = 0;
    const next = await c.checkpoint([task]);
    expect(next.written).toEqual([0]);
    expect((await store.restorable(0)).map((k) => [k.kind, k.offset])).toEqual([['full', 135]]); // full: the refused delta's base never existed
    // No trim yet: the store keeps the full checkpoint at 71 as the fallback for a corrupt newest full one.
    expect(steps).toEqual(['snapshot 0', 'flush', 'add 0', 'commit']);
    expect(health.isFailing('checkpoint')).toBe(false);
  });

  it('a commit the storage refuses refuses every partition added to it: each keeps its restore point and takes a full checkpoint next', async () => {
    const { c, store } = coordinator({ keep: 1, fullEvery: 10 });
    const tasks = [new FakeTask(0, steps), new FakeTask(1, steps)];
    for (const t of tasks) t.offset = 30;
    await c.checkpoint(tasks);
    for (const t of tasks) t.offset = 60;
    refuseCommits = 1;
    steps.length = 0;
    const outcome = await c.checkpoint(tasks);
    expect(outcome).toMatchObject({ written: [], refused: [0, 1] });
    expect(steps).toEqual(['snapshot 0', 'snapshot 1', 'flush', 'add 0', 'add 1', 'commit']); // no trim
    expect(tasks.map((t) => t.notWritten)).toEqual([1, 1]);
    expect(health.isFailing('checkpoint')).toBe(true);
    for (const p of [0, 1]) expect((await store.restorable(p)).map((k) => [k.kind, k.offset])).toEqual([['full', 30]]);
    clock += 5_000;
    const next = await c.checkpoint(tasks);
    expect(next.written).toEqual([0, 1]);
    for (const p of [0, 1]) expect((await store.restorable(p)).map((k) => [k.kind, k.offset])).toEqual([['full', 60]]);
  });

  it('trims only below every checkpoint the store keeps, deltas\' full ones included', async () => {
    const full = coordinator({ keep: 3, fullEvery: 1 });
    const task = new FakeTask(0, steps);
    const trimsAfter: number[] = [];
    for (const offset of [10, 20, 30, 40, 50]) {
      task.offset = offset;
      await full.c.checkpoint([task]);
      trimsAfter.push(await log.startOffset(0));
    }
    // Nothing while fewer than three exist; then the oldest of the newest three.
    expect(trimsAfter).toEqual([0, 0, 10, 20, 30]);

    // Deltas all resting on one full checkpoint: the log keeps what that full one needs.
    const deltaTask = new FakeTask(1, steps);
    const deltas = coordinator({ keep: 3, fullEvery: 100 });
    for (const offset of [5, 15, 25, 35, 45]) {
      deltaTask.offset = offset;
      await deltas.c.checkpoint([deltaTask]);
    }
    expect(await log.startOffset(1)).toBe(5);
    expect((await deltas.store.restorable(1)).map((k) => k.offset)).toEqual([5, 15, 25, 35, 45]);
  });

  it('is due once the interval has passed; a partial checkpoint leaves the interval clock running', async () => {
    const { c } = coordinator({ keep: 1, fullEvery: 1 });
    expect(c.due()).toBe(false);
    expect(c.due(true)).toBe(true);
    clock += 9_000;
    await c.checkpoint([new FakeTask(0, steps)], { partial: true });
    clock += 1_000;
    expect(c.due()).toBe(true);
    await c.checkpoint([new FakeTask(0, steps)]);
    expect(c.due()).toBe(false);
  });

  it('gives ids past every restored one, and growing', async () => {
    const { c } = coordinator({ keep: 1, fullEvery: 1 });
    c.restored(clock + 500);
    const a = await c.checkpoint([new FakeTask(0, steps)]);
    const b = await c.checkpoint([new FakeTask(0, steps)]);
    expect(a.id).toBe(clock + 501);
    expect(b.id).toBe(a.id + 1);
  });

  it('a partition another processor claimed: with static partitions the error stops the checkpoint; with leases it is reported, untrimmed, and the rest go on', async () => {
    const tasks = [new FakeTask(0, steps), new FakeTask(1, steps)];
    for (const t of tasks) t.offset = 150;
    await expect(coordinator({ keep: 1, fullEvery: 1, fence: 0 }).c.checkpoint(tasks)).rejects.toBeInstanceOf(CheckpointFencedError);
    steps.length = 0;
    for (const t of tasks) t.offset = 180;
    const outcome = await coordinator({ keep: 1, fullEvery: 1, fence: 0, fencedIsRecoverable: true }).c.checkpoint(tasks);
    expect(outcome).toMatchObject({ written: [1], refused: [], fenced: [0] });
    expect(steps.filter((s) => s.startsWith('trim'))).toEqual(['trim 1 180']);
  });

  it('a partition whose output was discarded (its lease lost) during the flush is not committed, and its next snapshot is full', async () => {
    const discarded = new Set<number>();
    const { c, store } = coordinator({
      keep: 1,
      fullEvery: 1,
      outputDiscarded: (p) => discarded.has(p),
      flush: async () => {
        steps.push('flush');
        discarded.add(0); // the lease is lost while the flush is on its way
      },
    });
    const tasks = [new FakeTask(0, steps), new FakeTask(1, steps)];
    for (const t of tasks) t.offset = 40;
    const outcome = await c.checkpoint(tasks);
    expect(outcome).toMatchObject({ written: [1], discarded: [0], fenced: [] });
    expect(steps).toEqual(['snapshot 0', 'snapshot 1', 'flush', 'add 1', 'commit', 'trim 1 40']);
    expect(tasks.map((t) => t.notWritten)).toEqual([1, 0]);
    expect(await store.restorable(0)).toEqual([]);
    // Discarded before the barrier: not even snapshot.
    steps.length = 0;
    const next = await c.checkpoint(tasks);
    expect(next).toMatchObject({ written: [1], discarded: [0] });
    expect(steps.filter((s) => s.startsWith('snapshot'))).toEqual(['snapshot 1']);
  });

  it('a barrier can be committed later, while its tasks move on; a flush that fails commits nothing and makes every snapshot of it count as not written', async () => {
    let fail = false;
    const { c, store } = coordinator({
      keep: 1,
      fullEvery: 10,
      flush: async () => {
        steps.push('flush');
        if (fail) throw new Error('InfluxDB refused the writes');
      },
    });
    const tasks = [new FakeTask(0, steps), new FakeTask(1, steps)];
    for (const t of tasks) t.offset = 20;
    const barrier = await c.snapshot(tasks);
    for (const t of tasks) t.offset = 90; // processed on after the barrier
    expect((await c.commit(barrier)).written).toEqual([0, 1]);
    for (const p of [0, 1]) expect((await store.restorable(p)).map((k) => [k.kind, k.offset])).toEqual([['full', 20]]);

    fail = true;
    const failing = await c.snapshot(tasks);
    expect(failing.snapshots.map((s) => s.checkpoint.kind)).toEqual(['delta', 'delta']);
    await expect(c.commit(failing)).rejects.toThrow('InfluxDB refused the writes');
    expect(tasks.map((t) => t.notWritten)).toEqual([1, 1]);
    for (const p of [0, 1]) expect((await store.restorable(p)).map((k) => k.offset)).toEqual([20]);
    fail = false;
    const next = await c.snapshot(tasks);
    expect(next.snapshots.map((s) => s.checkpoint.kind)).toEqual(['full', 'full']); // the failed deltas' base was never written
    await c.commit(next);
    for (const p of [0, 1]) expect((await store.restorable(p)).map((k) => [k.kind, k.offset])).toEqual([['full', 90]]);
  });
});
