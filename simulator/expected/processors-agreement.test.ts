/**
 * The reference model against the processors' WindowOperator on the same random readings
 * (out of order, ties, negative times and values, zeros): same points, counts/min/max/
 * first/last equal, sums/means/stddevs within verify's tolerance, quantiles exact up to 16
 * values and within the sketch's accuracy beyond. The model shares no code with
 * processors/; this test only reads both, so a change in either's semantics shows here
 * before an end-to-end run.
 */
import { describe, expect, it } from 'vitest';
import { ColumnarBatchBuilder, compressBatch } from '../../proto/index.js';
import type { SinkPoint, SinkPointId } from '../../processors/sink/index.js';
import { PartitionTask } from '../../processors/task/partition-task.js';
import { SequencedLog } from '../../processors/testing/sequenced-log.js';
import { makeBatch, prng, type TestMessage } from '../../processors/windowing/testing/batches.js';
import { WindowOperator } from '../../processors/windowing/window-operator.js';
import type { WindowSpec } from '../../processors/windowing/window-spec.js';
import { closeEnough, quantileWithin } from '../verify/index.js';
import { ReferenceModel } from './index.js';

const SPECS: WindowSpec[] = [
  { name: 'tum', type: 'tumbling', size: 10_000 },
  { name: 'sl', type: 'sliding', size: 10_000, slide: 3_000 },
  { name: 'sl2', type: 'sliding', size: 30_000, slide: 10_000 },
  { name: 'ses', type: 'session', gap: 2_000 },
];

describe('ReferenceModel vs the processors\' WindowOperator', () => {
  for (const seed of [1, 2, 3]) it(`agrees on every point of a random stream (seed ${seed})`, () => {
    const rnd = prng(seed);
    const ops = SPECS.map((s) => new WindowOperator(s, { allowedLateness: 1e12 }));
    const model = new ReferenceModel(SPECS, { devicePrefix: 'd' });
    const msgs: TestMessage[] = [];
    let t = -50_000;
    for (let i = 0; i < 3000; i++) {
      t += Math.floor(rnd() * 400);
      const device = `d${Math.floor(rnd() * 5)}`;
      const readings: TestMessage['readings'] = [];
      for (let j = 0; j < 1 + Math.floor(rnd() * 30); j++) {
        const time = t - Math.floor(rnd() * 3000) + (rnd() < 0.1 ? 0 : j);
        const v = rnd() < 0.05 ? Math.round(rnd() * 3) : (rnd() - 0.3) * 10 ** Math.floor(rnd() * 6);
        readings.push([rnd() < 0.5 ? 'a' : 'b', time, v]);
        model.add(device, readings[readings.length - 1]![0], time, v);
      }
      msgs.push({ device, readings });
    }
    const fired = ops.flatMap((op) => { op.processBatch(makeBatch(msgs), () => true); return op.onWatermark(1e15); });
    const expected = model.result().points;
    const key = (m: string, d: string, me: string, time: number) => `${m}|${d}|${me}|${time}`;
    const got = new Map(fired.map((f) => [key(f.window, f.device, f.metric, f.start), f.result]));
    expect(got.size).toBe(expected.length);
    for (const p of expected) {
      const r = got.get(key(p.measurement, p.device, p.metric, p.time));
      expect(r, key(p.measurement, p.device, p.metric, p.time)).toBeDefined();
      expect([r!.count, r!.min, r!.max, r!.first, r!.last]).toEqual([p.count, p.min, p.max, p.first, p.last]);
      const scale = Math.max(Math.abs(p.min), Math.abs(p.max));
      for (const f of ['sum', 'mean', 'stddev'] as const) expect(closeEnough(p[f], r![f], scale), `${f} ${p[f]} ${r![f]}`).toBe(true);
      for (const q of ['p50', 'p90', 'p99'] as const) {
        if (p.count <= 16) expect(r![q]).toBe(p[q][0]);
        expect(quantileWithin(p[q][0], p[q][1], r![q], 0.01), `${q} ${p[q]} ${r![q]} n=${p.count}`).toBe(true);
      }
    }
  });
});


describe('ReferenceModel vs the processors\' PartitionTask, with late readings', () => {
  const TIME = { maxOutOfOrderness: 2_000, idleTimeout: 1_000, allowedLateness: 4_000, maxBackfill: 60_000 };
  const T0 = 1_700_000_000_000;
  for (const seed of [1, 2, 3, 4]) it(`agrees on every window point and every late reading of devices with wild clocks (seed ${seed})`, async () => {
    const rnd = prng(seed);
    const log = new SequencedLog(1);
    // Writes and deletes in order, as the sink applies them: the last write of a point stays unless a later delete removes it.
    const points: (SinkPoint | SinkPointId)[] = [];
    const task = new PartitionTask({ partition: 0, log, windows: SPECS, time: TIME, raw: false, emit: (p) => points.push(p), emitDelete: (id) => points.push(id) });
    await task.startFresh();
    const model = new ReferenceModel(SPECS, { devicePrefix: 'd', time: TIME });
    const clock = [0, 0, 0, 0, 0];
    const seq = [0, 0, 0, 0, 0];
    let now = 0;
    for (let r = 0; r < 600; r++) {
      now += Math.floor(rnd() * 300);
      const receivedAt = T0 + now;
      const b = new ColumnarBatchBuilder(0, receivedAt);
      for (let m = 0; m < 1 + Math.floor(rnd() * 5); m++) {
        const d = Math.floor(rnd() * 5);
        const device = `d${d}`;
        clock[d] = Math.max(clock[d]!, now - Math.floor(rnd() * 1_000));
        if (rnd() < 0.01) clock[d]! += 30_000; // a clock that jumps ahead
        b.beginMessage(b.intern(device), b.intern(''), ++seq[d]!);
        model.message(device, { from: receivedAt, to: receivedAt });
        for (let j = 0; j < 1 + Math.floor(rnd() * 4); j++) {
          const x = rnd();
          // mostly near the device's clock, some up to 15 s behind it, a few past maxBackfill
          const early = x < 0.75 ? Math.floor(rnd() * 1_500) : x < 0.97 ? Math.floor(rnd() * 15_000) : 61_000 + Math.floor(rnd() * 10_000);
          let t = T0 + clock[d]! - early;
          // a reading exactly maxBackfill old is on time; keep clear of ±1 ms rounding questions
          if (t === receivedAt - TIME.maxBackfill) t--;
          const metric = rnd() < 0.5 ? 'a' : 'b';
          const v = Math.round((rnd() - 0.3) * 1000) / 10;
          b.addNumeric(b.intern(metric), b.intern(''), t, v);
          model.add(device, metric, t, v);
        }
      }
      await log.append(0, compressBatch(b.encode()));
      while (await task.step(32));
    }
    task.advanceIfIdle(Date.now() + 1e9); // every device idle: every window fires
    const expected = model.result();
    // The last write of each point is what InfluxDB keeps.
    const key = (measurement: string, tags: Record<string, string>, time: number) => `${measurement}|${tags.device}|${tags.metric}|${tags.window ?? ''}|${time}`;
    const stored = new Map<string, SinkPoint>();
    for (const p of points) {
      if ('fields' in p) stored.set(key(p.measurement, p.tags, p.timeMs), p);
      else stored.delete(key(p.measurement, p.tags, p.timeMs));
    }
    const late = [...stored.values()].filter((p) => p.measurement === 'late_readings');
    expect(expected.late!.length).toBeGreaterThan(20);
    expect(late.length).toBe(expected.late!.length);
    for (const l of expected.late!) {
      const p = stored.get(key('late_readings', { device: l.device, metric: l.metric, window: l.window }, l.time));
      expect(p, `late ${l.window} ${l.device} ${l.metric} ${l.time}`).toBeDefined();
      expect(l.values).toContain(p!.fields.value);
    }
    expect(task.stats.late).toBe(expected.lateReadings);
    const windowPoints = [...stored.values()].filter((p) => p.measurement !== 'late_readings');
    expect(windowPoints.length).toBe(expected.points.length);
    for (const e of expected.points) {
      const p = stored.get(key(e.measurement, { device: e.device, metric: e.metric }, e.time));
      expect(p, `${e.measurement} ${e.device} ${e.metric} ${e.time}`).toBeDefined();
      const f = p!.fields as Record<string, number | { int: number }>;
      const num = (v: number | { int: number } | undefined) => (typeof v === 'object' ? v.int : v);
      expect([num(f.count), f.min, f.max, f.first, f.last]).toEqual([e.count, e.min, e.max, e.first, e.last]);
    }
  });
});
