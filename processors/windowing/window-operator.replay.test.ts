import { describe, expect, it } from 'vitest';
import type { ColumnarBatch } from '../../proto/index.js';
import { SeqDeduplicator } from '../dedup.js';
import { PartitionWatermark } from '../time/watermark.js';
import { WindowAccumulator } from './accumulator.js';
import { windowStart } from './assigners.js';
import { makeBatch, prng, type TestMessage } from './testing/batches.js';
import { WindowOperator, type FiredWindow, type LateReading } from './window-operator.js';
import type { WindowSpec } from './window-spec.js';

const TIME = { maxOutOfOrderness: 3_000, idleTimeout: 30_000, allowedLateness: 10_000 };
const T0 = 1_700_000_000_000;

/**
 * A partition's stream: devices send batches about once a second with readings up to
 * 6 s out of order, 3 % of them 15–40 s late (so some within allowedLateness, some
 * past it), resends of earlier batches (duplicate seq) and a few gateway-dropped ones.
 */
function stream(seed: number, batches: number): ColumnarBatch[] {
  const rnd = prng(seed);
  const seq = new Map<string, number>();
  const sent: TestMessage[] = [];
  const out: ColumnarBatch[] = [];
  for (let b = 0; b < batches; b++) {
    const now = T0 + b * 1_000;
    const messages: TestMessage[] = [];
    for (let m = 0; m < 6; m++) {
      if (rnd() < 0.05 && sent.length > 0) {
        messages.push(sent[Math.floor(rnd() * sent.length)]!); // a resend
        continue;
      }
      const device = `dev-${Math.floor(rnd() * 8)}`;
      const s = (seq.get(device) ?? 0) + 1;
      seq.set(device, s);
      const readings: TestMessage['readings'] = [];
      for (let r = 0; r < 1 + Math.floor(rnd() * 6); r++) {
        const late = rnd() < 0.03 ? 15_000 + rnd() * 25_000 : 0;
        const time = Math.round(now - rnd() * 6_000 - late);
        readings.push([rnd() < 0.7 ? 'temp' : 'hum', time, Math.round((rnd() * 200 - 50) * 100) / 100, rnd() < 0.2 ? 'probe=2' : undefined]);
      }
      const message: TestMessage = { device, seq: s, readings, deviceTags: device === 'dev-3' ? 'site=oslo' : '', dropped: rnd() < 0.02 };
      messages.push(message);
      sent.push(message);
    }
    out.push(makeBatch(messages, { encode: b % 2 === 0 }));
  }
  return out;
}

interface Task {
  dedup: SeqDeduplicator;
  watermark: PartitionWatermark;
  operator: WindowOperator;
}

/** What a partition task does per batch: dedup, windows, watermark, fire. */
function step(task: Task, batch: ColumnarBatch, fired: FiredWindow[], late: LateReading[]): void {
  const accepted = task.dedup.acceptBatch(batch);
  task.operator.processBatch(batch, (i) => accepted[i] === 1);
  let max = -Infinity;
  for (const t of batch.time) max = Math.max(max, t);
  fired.push(...task.operator.onWatermark(task.watermark.observe(max, 0)));
  late.push(...task.operator.drainLate());
}

function run(spec: WindowSpec, batches: ColumnarBatch[], snapshotAt: number[] = []): { fired: FiredWindow[]; late: LateReading[] } {
  let task: Task = { dedup: new SeqDeduplicator(), watermark: new PartitionWatermark(TIME, 0), operator: new WindowOperator(spec, TIME) };
  const fired: FiredWindow[] = [];
  const late: LateReading[] = [];
  batches.forEach((batch, i) => {
    if (snapshotAt.includes(i)) {
      // a checkpoint, a crash, and a restore from it (all three states, through bytes)
      task = {
        dedup: SeqDeduplicator.restore(task.dedup.snapshot()),
        watermark: PartitionWatermark.restore(TIME, task.watermark.snapshot(), 0),
        operator: WindowOperator.restore(spec, TIME, task.operator.snapshot()),
      };
    }
    step(task, batch, fired, late);
  });
  fired.push(...task.operator.onWatermark(Infinity)); // end of stream: close everything
  return { fired, late };
}

const SPECS: WindowSpec[] = [
  { name: 'tumbling', type: 'tumbling', size: 10_000 },
  { name: 'sliding', type: 'sliding', size: 10_000, slide: 3_000 },
  { name: 'session', type: 'session', gap: 2_000 },
];

describe('WindowOperator end to end on columnar batches', () => {
  for (const spec of SPECS) {
    it(`${spec.type}: a snapshot/restore mid-stream gives the same output as an uninterrupted run`, () => {
      const batches = stream(spec.name.length, 240);
      const straight = run(spec, batches);
      expect(straight.fired.length).toBeGreaterThan(100);
      expect(straight.late.length).toBeGreaterThan(0);
      expect(straight.fired.some((w) => w.result.count > 1)).toBe(true);
      const restored = run(spec, batches, [1, 37, 38, 120, 239]);
      expect(restored.fired).toEqual(straight.fired);
      expect(restored.late).toEqual(straight.late);
    });
  }

  it('tumbling: the last value written for each point equals the aggregate of the readings that were on time', () => {
    const spec: WindowSpec = { name: 'tumbling', type: 'tumbling', size: 10_000 };
    const batches = stream(7, 300);
    const { fired, late } = run(spec, batches);
    // Reference: replay the same decisions by hand (dedup by seq, a reading is too late when end + lateness ≤ the watermark before its batch).
    const seen = new Set<string>();
    const expected = new Map<string, WindowAccumulator>();
    let wm = -Infinity;
    let maxTime = -Infinity;
    let lateCount = 0;
    for (const b of batches) {
      for (let m = 0; m < b.msgDevice.length; m++) {
        const device = b.strings[b.msgDevice[m]!]!;
        const id = `${device}#${b.msgSeq[m]}`;
        if (b.msgFlags[m] !== 0 || seen.has(id)) continue;
        seen.add(id);
        for (let j = m === 0 ? 0 : b.numEnd[m - 1]!; j < b.numEnd[m]!; j++) {
          const t = b.time[j]!;
          const start = windowStart(t, 10_000);
          if (start + 10_000 + TIME.allowedLateness <= wm) {
            lateCount++;
            continue;
          }
          const key = [device, b.strings[b.metric[j]!], b.strings[b.tags[j]!], b.strings[b.msgDeviceTags[m]!], start].join('|');
          if (!expected.has(key)) expected.set(key, new WindowAccumulator());
          expected.get(key)!.add(t, b.value[j]!);
        }
      }
      for (const t of b.time) maxTime = Math.max(maxTime, t);
      wm = Math.max(wm, maxTime - TIME.maxOutOfOrderness);
    }
    const written = new Map<string, FiredWindow>();
    for (const w of fired) written.set([w.device, w.metric, w.readingTags, w.deviceTags, w.start].join('|'), w); // InfluxDB keeps the last write
    expect(late).toHaveLength(lateCount);
    expect([...written.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [key, w] of written) {
      const want = expected.get(key)!.result();
      expect(w.result.count).toBe(want.count);
      expect(w.result.sum).toBeCloseTo(want.sum, 9);
      expect([w.result.min, w.result.max, w.result.first, w.result.last]).toEqual([want.min, want.max, want.first, want.last]);
      expect([w.result.p50, w.result.p90, w.result.p99]).toEqual([want.p50, want.p90, want.p99]);
    }
  });
});
