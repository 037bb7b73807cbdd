import { describe, expect, it } from 'vitest';
import type { Log, LogRecord } from '../../log/index.js';
import { ColumnarBatchBuilder, compressBatch } from '../../proto/index.js';
import type { SinkPoint } from '../sink/index.js';
import type { WindowSpec } from '../windowing/window-spec.js';
import { PartitionTask } from './partition-task.js';

/** The log of one partition, in memory, appended to while the task runs. */
class GrowingLog implements Log {
  readonly partitions = 1;
  private readonly records: Uint8Array[] = [];

  append(_partition: number, payload: Uint8Array): Promise<number> {
    this.records.push(payload);
    return Promise.resolve(this.records.length - 1);
  }
  read(_partition: number, fromOffset: number, maxRecords = 100): Promise<LogRecord[]> {
    return Promise.resolve(this.records.slice(fromOffset, fromOffset + maxRecords).map((payload, i) => ({ offset: fromOffset + i, payload })));
  }
  trim(): Promise<void> {
    return Promise.resolve();
  }
  startOffset(): Promise<number> {
    return Promise.resolve(0);
  }
  pending(_partition: number, fromOffset: number): Promise<number> {
    return Promise.resolve(Math.max(0, this.records.length - fromOffset));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const T0 = 1_700_000_000_000;
const TIME = { maxOutOfOrderness: 2_000, idleTimeout: 1e12, allowedLateness: 4_000, maxBackfill: 3_600_000 };

/** One record: each [device, seq, time, value] a message of one reading of metric `m`, received at `receivedAt`. */
function record(messages: [string, number, number, number][], receivedAt = T0): Uint8Array {
  const b = new ColumnarBatchBuilder(0, receivedAt);
  for (const [device, seq, time, value] of messages) {
    b.beginMessage(b.intern(device), b.intern(''), seq);
    b.addNumeric(b.intern('m'), b.intern(''), time, value);
  }
  return compressBatch(b.encode());
}

async function harness(time = TIME, specs: WindowSpec[] = [{ name: 'w5s', type: 'tumbling', size: 5_000 }]) {
  const log = new GrowingLog();
  const points: SinkPoint[] = [];
  const task = new PartitionTask({ partition: 0, log, windows: specs, time, raw: false, emit: (p) => points.push(p) });
  await task.startFresh();
  const feed = async (payload: Uint8Array): Promise<void> => {
    await log.append(0, payload);
    while (await task.step(32));
  };
  const windows = (device: string, measurement = 'w5s') =>
    points.filter((p) => p.measurement === measurement && p.tags.device === device).map((p) => [p.timeMs - T0, (p.fields.count as { int: number }).int]);
  const late = (device: string) => points.filter((p) => p.measurement === 'late_readings' && p.tags.device === device).length;
  return { task, feed, windows, late };
}

describe('event time per device', () => {
  it('a device whose clock runs a minute ahead makes none of another device\'s readings late', async () => {
    const { feed, windows, late } = await harness();
    await feed(record([['fast', 1, T0 + 60_000, 1]]));
    for (let i = 0; i < 20; i++) await feed(record([['slow', i + 1, T0 + i * 500, i]]));
    // slow's own clock (9.5 s − 2 s) closed [0, 5 s); none of its readings is late.
    expect(late('slow')).toBe(0);
    expect(windows('slow')).toEqual([[0, 10]]);
    await feed(record([['slow', 21, T0 + 12_500, 0]]));
    expect(windows('slow')).toEqual([[0, 10], [5_000, 10]]);
    // fast's own clock is ahead: its earlier readings are late for it alone.
    await feed(record([['fast', 2, T0 + 1_000, 1]]));
    expect(late('fast')).toBe(1);
  });

  it('a device back from an outage lands its buffered readings in their own windows, while the partition moved on', async () => {
    const { feed, windows, late } = await harness();
    await feed(record([['field', 1, T0, 1]]));
    // Five minutes of another device's readings move the partition's progress on.
    for (let i = 1; i <= 60; i++) await feed(record([['steady', i, T0 + i * 5_000, i]], T0 + i * 5_000));
    // The backlog, in order, one reading a second.
    for (let i = 1; i <= 300; i++) await feed(record([['field', i + 1, T0 + i * 1_000, i]], T0 + 300_000));
    expect(late('field')).toBe(0);
    const got = windows('field');
    // every window of its own up to where its clock stands (300 s − 2 s): five readings each, the first with six
    expect(got[0]).toEqual([0, 5]);
    expect(got.length).toBeGreaterThanOrEqual(59);
    expect(got.slice(1, 59).every(([, n]) => n === 5)).toBe(true);
  });

  it('judges each message against its device\'s clock just before it, however the gateway batched the messages', async () => {
    // d's second message moves its clock 20 s on; the third message's reading at 1 s is then
    // past [0, 5 s)'s lateness (20 s − 2 s ≥ 5 s + 4 s), in one record or in three.
    const messages: [string, number, number, number][] = [['d', 1, T0, 1], ['d', 2, T0 + 20_000, 2], ['d', 3, T0 + 1_000, 3]];
    const together = await harness();
    await together.feed(record(messages));
    const apart = await harness();
    for (const m of messages) await apart.feed(record([m]));
    expect(together.late('d')).toBe(1);
    expect(apart.late('d')).toBe(1);
    // and the first message's reading, before the jump, is on time in both
    together.task.advanceIfIdle(Date.now());
    expect(together.windows('d')).toEqual(apart.windows('d'));
  });

  it('does not merge a reading into a session its device\'s clock has closed, however the gateway batched the messages', async () => {
    // [0, 2001) closes once d's watermark reaches 2001 + 4 s lateness; the reading at 2 s is
    // within the gap of it but opens its own session, in one record or in three.
    const messages: [string, number, number, number][] = [['d', 1, T0, 1], ['d', 2, T0 + 8_001, 2], ['d', 3, T0 + 2_000, 3]];
    const spec: WindowSpec[] = [{ name: 'ses', type: 'session', gap: 2_000 }];
    const together = await harness(TIME, spec);
    await together.feed(record(messages));
    const apart = await harness(TIME, spec);
    for (const m of messages) await apart.feed(record([m]));
    together.task.advanceIfIdle(Date.now());
    apart.task.advanceIfIdle(Date.now());
    expect(apart.windows('d', 'ses').slice(0, 2)).toEqual([[0, 1], [2_000, 1]]);
    expect(together.windows('d', 'ses').slice(0, 2)).toEqual([[0, 1], [2_000, 1]]);
  });

  it('a reading older than maxBackfill behind its receive time goes to late_readings', async () => {
    const { feed, windows, late } = await harness();
    await feed(record([['old', 1, T0 - 3_600_001, 1]], T0));
    await feed(record([['old', 2, T0 - 3_599_000, 2]], T0));
    expect(late('old')).toBe(1);
    expect(windows('old')).toEqual([]);
  });

  it('fires a quiet device\'s windows at the idle timeout, and keeps them: its later readings for them re-fire, not replace', async () => {
    const { task, feed, windows, late } = await harness({ ...TIME, idleTimeout: 1_000 });
    await feed(record([['quiet', 1, T0 + 100, 1]]));
    await feed(record([['quiet', 2, T0 + 200, 2]]));
    expect(windows('quiet')).toEqual([]);
    // quiet for the idle timeout, and the partition's progress (with processing time) past the window
    task.advanceIfIdle(Date.now() + 10_000);
    expect(windows('quiet')).toEqual([[0, 2]]);
    // it comes back with one more reading for that window: the point is re-written with all three
    await feed(record([['quiet', 3, T0 + 300, 3]]));
    task.advanceIfIdle(Date.now() + 20_000);
    expect(windows('quiet')).toEqual([[0, 2], [0, 3]]);
    expect(late('quiet')).toBe(0);
  });

  it('keeps each device\'s clock across a checkpoint: a purged window stays closed after a restore', async () => {
    const { task, feed, late } = await harness();
    await feed(record([['d', 1, T0, 1]]));
    await feed(record([['d', 2, T0 + 20_000, 2]])); // purges [0, 5 s): 20 s − 2 s ≥ 5 s + 4 s
    const checkpoint = await task.snapshot(1);
    const log = new GrowingLog();
    const points: SinkPoint[] = [];
    const restored = new PartitionTask({ partition: 0, log, windows: [{ name: 'w5s', type: 'tumbling', size: 5_000 }], time: TIME, raw: false, emit: (p) => points.push(p) });
    restored.restore([checkpoint]);
    for (let i = 0; i < checkpoint.offset; i++) await log.append(0, record([]));
    await log.append(0, record([['d', 3, T0 + 1_000, 3]]));
    while (await restored.step(32));
    expect(points.filter((p) => p.measurement === 'late_readings')).toHaveLength(1);
    expect(points.filter((p) => p.measurement === 'w5s')).toEqual([]);
    expect(late('d')).toBe(0);
  });
});
