import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogOffsetError } from '../../core/index.js';
import { ColumnarBatchBuilder, compressBatch } from '../../proto/index.js';
import { tempDir } from '../../test/harness/temp-dir.js';
import { LocalCheckpointStore } from '../checkpoint/index.js';
import type { SinkPoint } from '../sink/index.js';
import { SequencedLog } from '../testing/sequenced-log.js';
import { PartitionTask } from './partition-task.js';

const T0 = 1_700_000_000_000;
const TIME = { maxOutOfOrderness: 2_000, idleTimeout: 1e12, allowedLateness: 4_000, maxBackfill: 1e15 };
const WINDOWS = [{ name: 'w5s', type: 'tumbling' as const, size: 5_000 }];
const PARTITION = 5;

/** Record i: devices a and b, one reading each at T0 + i s, seq i + 1. */
function record(i: number): Uint8Array {
  const b = new ColumnarBatchBuilder(PARTITION, T0 + i * 1_000);
  for (const device of ['a', 'b']) {
    b.beginMessage(b.intern(device), b.intern(''), i + 1);
    b.addNumeric(b.intern('t'), b.intern(''), T0 + i * 1_000, i);
  }
  return compressBatch(b.encode());
}

// JetStream hands out one sequence for all partitions: partition 5 of 64 holds 6, 70, 134 …
describe('PartitionTask on a log with sparse offsets', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let log: SequencedLog;
  let offsets: number[];
  beforeEach(async () => {
    dir = await tempDir('sluice-sparse-');
    log = new SequencedLog(64);
    offsets = [];
    for (let i = 0; i < 12; i++) offsets.push(await log.appendAmongAll(PARTITION, record(i)));
  });
  afterEach(() => dir.remove());

  const task = (points: SinkPoint[]): PartitionTask => new PartitionTask({ partition: PARTITION, log, windows: WINDOWS, time: TIME, raw: false, emit: (p) => points.push(p) });

  it('reads each record once, checkpoints after the last one read, restores, trims and resumes without loss or repeat', async () => {
    expect(offsets.slice(0, 3)).toEqual([6, 70, 134]);
    // The uninterrupted run, and the points it had written after each record.
    const expected: SinkPoint[] = [];
    const straight = task(expected);
    await straight.startFresh();
    const after: number[] = [];
    const visited: number[] = [];
    while (await straight.step(1)) {
      visited.push(straight.offset);
      after.push(expected.length);
    }
    expect(visited).toEqual(offsets.map((o) => o + 1));
    expect(straight.stats.records).toBe(12);
    expect(expected.length).toBeGreaterThan(0);

    // Three records, then a checkpoint: it resumes after the third record, at 135.
    const out: SinkPoint[] = [];
    const first = task(out);
    await first.startFresh();
    expect(await first.refreshLag()).toBe(12); // a count of records, not 6 + 64 × 11 − 0
    for (let i = 0; i < 3; i++) await first.step(1);
    expect(await first.refreshLag()).toBe(9);
    const store = new LocalCheckpointStore(dir.path, 1);
    const checkpoint = await first.snapshot(1);
    expect(checkpoint.offset).toBe(135);
    await store.write(checkpoint);
    const trimTo = await store.trimOffset(PARTITION);
    expect(trimTo).toBe(135);
    await log.trim(PARTITION, trimTo!);
    expect(await log.startOffset(PARTITION)).toBe(135);
    await expect(log.read(PARTITION, 134)).rejects.toBeInstanceOf(LogOffsetError);

    // A new task from the stored chain: it reads 198 next, and writes what the straight run wrote after record 3.
    const resumed: SinkPoint[] = [];
    const second = task(resumed);
    second.restore(await store.restorable(PARTITION));
    expect(second.offset).toBe(135);
    expect(await second.refreshLag()).toBe(9);
    await second.step(1);
    expect(second.offset).toBe(offsets[3]! + 1);
    while (await second.step(4));
    expect(second.stats.records).toBe(9);
    expect(second.lag).toBe(0);
    expect(resumed).toEqual(expected.slice(after[2]));
  });

  it('finds out by reading that nothing is there, and starts fresh at the trim point', async () => {
    await log.trim(PARTITION, 70);
    const points: SinkPoint[] = [];
    const t = task(points);
    await t.startFresh();
    expect(t.offset).toBe(70);
    let steps = 0;
    while (await t.step(5)) steps++;
    expect([steps, t.stats.records, t.offset]).toEqual([3, 11, offsets[11]! + 1]);
    expect(await t.step(5)).toBe(false); // still nothing: the read is the answer
  });
});
