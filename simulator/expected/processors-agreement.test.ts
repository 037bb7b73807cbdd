/**
 * The reference model against the processors' WindowOperator on the same random readings
 * (out of order, ties, negative times and values, zeros): same points, counts/min/max/
 * first/last equal, sums/means/stddevs within verify's tolerance, quantiles exact up to 16
 * values and within the sketch's accuracy beyond. The model shares no code with
 * processors/; this test only reads both, so a change in either's semantics shows here
 * before an end-to-end run.
 */
import { describe, expect, it } from 'vitest';
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
