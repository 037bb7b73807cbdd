import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LogOffsetError } from '../../core/index.js';
import type { Log, LogRecord } from '../../log/index.js';
import { ColumnarBatchBuilder, compressBatch } from '../../proto/index.js';
import { decodeCheckpoint, encodeCheckpoint, type PartitionCheckpoint } from '../checkpoint/checkpoint-file.js';
import type { SinkPoint } from '../sink/index.js';
import type { WindowSpec } from '../windowing/window-spec.js';
import { PartitionTask } from './partition-task.js';

/** The log of one partition, in memory. */
class MemoryLog implements Log {
  readonly partitions = 1;
  private readonly records: Uint8Array[] = [];
  private start = 0;

  append(_partition: number, payload: Uint8Array): Promise<number> {
    this.records.push(payload);
    return Promise.resolve(this.records.length - 1);
  }

  read(_partition: number, fromOffset: number, maxRecords = 100): Promise<LogRecord[]> {
    if (fromOffset < this.start) return Promise.reject(new LogOffsetError(`offset ${fromOffset} was trimmed`));
    return Promise.resolve(this.records.slice(fromOffset, fromOffset + maxRecords).map((payload, i) => ({ offset: fromOffset + i, payload })));
  }

  trim(_partition: number, upToOffset: number): Promise<void> {
    this.start = Math.max(this.start, upToOffset);
    return Promise.resolve();
  }

  /** Records appended so far (the fake's own: the Log contract has no end offset). */
  get length(): number {
    return this.records.length;
  }

  startOffset(): Promise<number> {
    return Promise.resolve(this.start);
  }

  pending(_partition: number, fromOffset: number): Promise<number> {
    return Promise.resolve(Math.max(0, this.records.length - Math.max(fromOffset, this.start)));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

const TIME = { maxOutOfOrderness: 2_000, idleTimeout: 1e12, allowedLateness: 4_000, maxBackfill: 1e15 };
const WINDOWS: WindowSpec[] = [
  { name: 'w5s', type: 'tumbling', size: 5_000 },
  { name: 'sessions', type: 'session', gap: 1_500 },
];
const T0 = 1_700_000_000_000;

/** A generated message: a device, whether it resends its previous seq, and readings as (metric, time offset, value). */
interface Message {
  device: string;
  resend: boolean;
  readings: [metric: string, dt: number, value: number][];
}

const messageArb = fc.record({
  device: fc.constantFrom('a', 'b', 'c', 'd'),
  resend: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
  readings: fc.array(fc.tuple(fc.constantFrom('t', 'h'), fc.integer({ min: -9_000, max: 1_000 }), fc.integer({ min: -20, max: 20 })), { minLength: 1, maxLength: 3 }),
});

/** Log records from generated messages; record i's clock is T0 + i s, and each device numbers its batches. */
function records(batches: Message[][]): Uint8Array[] {
  const seq = new Map<string, number>();
  return batches.map((messages, i) => {
    const b = new ColumnarBatchBuilder(0, T0);
    for (const m of messages) {
      const s = (seq.get(m.device) ?? 0) + (m.resend ? 0 : 1);
      seq.set(m.device, s);
      b.beginMessage(b.intern(m.device), b.intern(m.device === 'c' ? 'site=x' : ''), Math.max(1, s));
      for (const [metric, dt, value] of m.readings) b.addNumeric(b.intern(metric), b.intern(''), T0 + i * 1_000 + dt, value);
    }
    return compressBatch(b.encode());
  });
}

async function logOf(payloads: Uint8Array[]): Promise<MemoryLog> {
  const log = new MemoryLog();
  for (const p of payloads) await log.append(0, p);
  return log;
}

/** A checkpoint as the store would give it back: through the file codec. */
async function stored(c: PartitionCheckpoint): Promise<PartitionCheckpoint> {
  return await decodeCheckpoint(await encodeCheckpoint(c), 'test');
}

/** The chain that restores `newest`: back through base ids to a full checkpoint. */
function chainOf(saved: Map<number, PartitionCheckpoint>, newest: PartitionCheckpoint): PartitionCheckpoint[] {
  const chain = [newest];
  while (chain[0]!.kind === 'delta') chain.unshift(saved.get(chain[0]!.base)!);
  return chain;
}

type Action = 'none' | 'checkpoint' | 'crash';

describe('PartitionTask with a tumbling window of a sliding window\'s pane length', () => {
  // The tumbling window first: the task must still give the sliding window each batch first (and fire in this order).
  const SHARING: WindowSpec[] = [
    { name: 'w5s', type: 'tumbling', size: 5_000 },
    { name: 'sl20by5', type: 'sliding', size: 20_000, slide: 5_000 },
  ];

  it('shares the panes and writes exactly the points it writes without sharing', async () => {
    let shared = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(messageArb, { maxLength: 3 }), { minLength: 4, maxLength: 30 }), async (batches) => {
        const log = await logOf(records(batches));
        const run = async (sharePanes: boolean): Promise<{ points: SinkPoint[]; task: PartitionTask }> => {
          const points: SinkPoint[] = [];
          const task = new PartitionTask({ partition: 0, log, windows: SHARING, time: TIME, raw: false, emit: (p) => points.push(p), sharePanes });
          await task.startFresh();
          while (await task.step(1));
          return { points, task };
        };
        const withSharing = await run(true);
        const without = await run(false);
        expect(withSharing.points).toEqual(without.points);
        expect(without.task.sharedPanes).toBe(0);
        shared += withSharing.task.sharedPanes;
      }),
    );
    expect(shared).toBeGreaterThan(100);
  });
});

describe('PartitionTask checkpoints', () => {
  it('restoring full + deltas taken at random points and replaying the log writes exactly the points of an uninterrupted run', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(messageArb, { maxLength: 3 }), { minLength: 4, maxLength: 30 }),
        fc.array(fc.constantFrom<Action>('none', 'checkpoint', 'checkpoint', 'crash'), { minLength: 30, maxLength: 30 }),
        fc.integer({ min: 1, max: 4 }),
        async (batches, plan, fullEvery) => {
          const log = await logOf(records(batches));
          // The uninterrupted run, and how many points it had written before each offset.
          const expected: SinkPoint[] = [];
          const before: number[] = [];
          const straight = new PartitionTask({ partition: 0, log, windows: WINDOWS, time: TIME, raw: false, emit: (p) => expected.push(p) });
          await straight.startFresh();
          do before.push(expected.length);
          while (await straight.step(1));

          let out: SinkPoint[] = [];
          const task = (): PartitionTask => new PartitionTask({ partition: 0, log, windows: WINDOWS, time: TIME, raw: false, emit: (p) => out.push(p) });
          let t = task();
          await t.startFresh();
          let from = 0;
          let id = 1;
          const saved = new Map<number, PartitionCheckpoint>();
          let newest: PartitionCheckpoint | undefined;
          const done = new Set<number>();
          while (t.offset < log.length) {
            const at = t.offset;
            const action = done.has(at) ? 'none' : plan[at]!;
            done.add(at);
            if (action === 'checkpoint') {
              newest = await stored(await t.snapshot(id++, { fullEvery }));
              saved.set(newest.id, newest);
            } else if (action === 'crash' && newest !== undefined) {
              expect(out).toEqual(expected.slice(before[from], before[at]));
              t = task();
              const { restored, problem } = t.restore(chainOf(saved, newest));
              expect([restored.id, problem]).toEqual([newest.id, undefined]);
              from = t.offset;
              out = [];
              continue;
            }
            await t.step(1);
          }
          expect(out).toEqual(expected.slice(before[from]));
          const kinds = [...saved.values()].map((c) => c.kind);
          if (fullEvery === 1) expect(kinds.every((k) => k === 'full')).toBe(true);
        },
      ),
      { numRuns: 120 },
    );
  });

  it('takes a full checkpoint every fullEvery, also after a restore from a chain', async () => {
    const log = await logOf(records([[{ device: 'a', resend: false, readings: [['t', 0, 1]] }]]));
    const t = new PartitionTask({ partition: 0, log, windows: WINDOWS, time: TIME, raw: false, emit: () => undefined });
    await t.startFresh();
    const taken: PartitionCheckpoint[] = [];
    for (let id = 1; id <= 5; id++) taken.push(await t.snapshot(id, { fullEvery: 3 }));
    expect(taken.map((c) => [c.kind, c.base])).toEqual([['full', 0], ['delta', 1], ['delta', 2], ['full', 0], ['delta', 4]]);
    const r = new PartitionTask({ partition: 0, log, windows: WINDOWS, time: TIME, raw: false, emit: () => undefined });
    r.restore([taken[3]!, taken[4]!]);
    expect([await r.snapshot(6, { fullEvery: 3 }), await r.snapshot(7, { fullEvery: 3 })].map((c) => [c.kind, c.base])).toEqual([['delta', 5], ['full', 0]]);
    expect((await t.snapshot(6)).kind).toBe('full'); // fullEvery defaults to 1
  });

  it('takes a full checkpoint after one that was not written (disk full), and restores from it alone', async () => {
    const log = await logOf(records([[{ device: 'a', resend: false, readings: [['t', 0, 1]] }], [{ device: 'b', resend: false, readings: [['t', 10, 2]] }]]));
    const t = new PartitionTask({ partition: 0, log, windows: WINDOWS, time: TIME, raw: false, emit: () => undefined });
    await t.startFresh();
    const first = await t.snapshot(1, { fullEvery: 10 });
    await t.step(1);
    await t.snapshot(2, { fullEvery: 10 }); // its write failed: the change to device a's key is in no file
    t.snapshotNotWritten();
    await t.step(1);
    const next = await t.snapshot(3, { fullEvery: 10 });
    expect([first.kind, next.kind, next.base]).toEqual(['full', 'full', 0]);
    const r = new PartitionTask({ partition: 0, log, windows: WINDOWS, time: TIME, raw: false, emit: () => undefined });
    r.restore([next]);
    expect(await r.snapshot(4, { fullEvery: 1 })).toMatchObject({ offset: next.offset, state: next.state });
  });

  it('restores the checkpoint before a delta whose state does not decode, and says why', async () => {
    const log = await logOf(records([0, 1, 2].map((i) => [{ device: 'a', resend: false, readings: [['t', i * 100, i]] }])));
    const t = new PartitionTask({ partition: 0, log, windows: WINDOWS, time: TIME, raw: false, emit: () => undefined });
    await t.startFresh();
    const chain: PartitionCheckpoint[] = [];
    for (let id = 1; id <= 3; id++) {
      await t.step(1);
      chain.push(await t.snapshot(id, { fullEvery: 10 }));
    }
    const broken = { ...chain[1]!, state: chain[1]!.state.subarray(0, chain[1]!.state.length - 3) };
    const r = new PartitionTask({ partition: 0, log, windows: WINDOWS, time: TIME, raw: false, emit: () => undefined });
    const { restored, problem } = r.restore([chain[0]!, broken, chain[2]!]);
    expect(restored.id).toBe(1);
    expect(problem?.message).toMatch(/checkpoints 2, 3 cannot be applied .*restored checkpoint 1/);
    expect(r.offset).toBe(chain[0]!.offset);
    expect(await r.snapshot(4, { fullEvery: 10 })).toMatchObject({ kind: 'delta', base: 1 });
    expect(() => r.restore([chain[1]!])).toThrow(/is not a full one/);
    expect(r.restore([chain[0]!, chain[2]!]).problem?.message).toMatch(/not a delta one applying to 1/);
  });
});
