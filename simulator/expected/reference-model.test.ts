/** The reference model on hand-computed cases: window assignment, edges, ties, sessions, advance(). */
import { describe, expect, it } from 'vitest';
import type { ExpectedPoint, ExpectedResult } from '../report.js';
import { ReferenceModel, type ExpectedWindow } from './index.js';

const TUMBLING: ExpectedWindow = { name: 'w10', type: 'tumbling', size: 10_000 };
const SLIDING: ExpectedWindow = { name: 's10', type: 'sliding', size: 10_000, slide: 5_000 };
const SESSION: ExpectedWindow = { name: 'sess', type: 'session', gap: 5_000 };

type Reading = [device: string, metric: string, time: number, value: number];

function run(windows: ExpectedWindow[], readings: Reading[], advanceEvery = 0): ExpectedResult {
  const m = new ReferenceModel(windows, { devicePrefix: 'd' });
  readings.forEach(([d, metric, t, v], i) => {
    m.add(d, metric, t, v);
    // Only for in-order input: promise that nothing before this reading's time follows.
    if (advanceEvery > 0 && i % advanceEvery === 0) m.advance(t);
  });
  return m.result();
}

/** A point's window start and values, for short assertions. */
const brief = (p: ExpectedPoint) => [p.measurement, p.device, p.metric, p.time, p.count, p.sum];

describe('ReferenceModel: tumbling windows', () => {
  it('aggregates every field of a window, point time = window start', () => {
    const r = run([TUMBLING], [
      ['d1', 't', 1_000, 20],
      ['d1', 't', 9_999, 24],
      ['d1', 't', 5_000, 22],
      ['d1', 't', 10_000, 99],
    ]);
    expect(r.points).toHaveLength(2);
    expect(r.points[0]).toEqual({
      measurement: 'w10', device: 'd1', metric: 't', time: 0,
      count: 3, sum: 66, min: 20, max: 24, mean: 22, first: 20, last: 24,
      stddev: Math.sqrt(8 / 3),
      p50: [22, 22], p90: [22, 24], p99: [22, 24],
    });
    expect(brief(r.points[1]!)).toEqual(['w10', 'd1', 't', 10_000, 1, 99]);
    expect(r.readings).toBe(4);
    expect(r.eventTimeRange).toEqual({ from: 1_000, to: 10_000 });
    expect(r.windows).toEqual([TUMBLING]);
    expect(r.quantileRelativeAccuracy).toBe(0.01);
    expect(r.devicePrefix).toBe('d');
  });

  it('puts readings at exact ms edges in the window that starts there, negative times included', () => {
    const r = run([TUMBLING], [
      ['d1', 't', -10_001, 1],
      ['d1', 't', -10_000, 2],
      ['d1', 't', -1, 3],
      ['d1', 't', 0, 4],
      ['d1', 't', 9_999, 5],
      ['d1', 't', 10_000, 6],
    ]);
    expect(r.points.map((p) => [p.time, p.count, p.sum])).toEqual([
      [-20_000, 1, 1],
      [-10_000, 2, 5],
      [0, 2, 9],
      [10_000, 1, 6],
    ]);
  });

  it('keys by device, metric and tags; orders points by window, time, device, metric, tags', () => {
    const m = new ReferenceModel([TUMBLING], { devicePrefix: 'dev-' });
    m.add('dev-b', 't', 1, 1);
    m.add('dev-a', 't', 12_000, 2);
    m.add('dev-a', 'h', 2, 3);
    m.add('dev-a', 't', 3, 4, { site: 'oslo' });
    m.add('dev-a', 't', 4, 5);
    m.add('dev-a', 't', 5, 6, { site: 'oslo' });
    const r = m.result();
    expect(r.points.map((p) => [p.device, p.metric, p.tags, p.time, p.sum])).toEqual([
      ['dev-a', 'h', undefined, 0, 3],
      ['dev-a', 't', undefined, 0, 5],
      ['dev-a', 't', { site: 'oslo' }, 0, 10],
      ['dev-b', 't', undefined, 0, 1],
      ['dev-a', 't', undefined, 10_000, 2],
    ]);
    expect('tags' in r.points[0]!).toBe(false);
  });
});

describe('ReferenceModel: sliding windows', () => {
  it('puts a reading in every window of size that starts at a multiple of slide at or before it', () => {
    const r = run([SLIDING], [
      ['d1', 't', 4_999, 1],
      ['d1', 't', 5_000, 10],
      ['d1', 't', 9_999, 100],
      ['d1', 't', 10_000, 1_000],
    ]);
    expect(r.points.map((p) => [p.time, p.count, p.sum, p.first, p.last])).toEqual([
      [-5_000, 1, 1, 1, 1],
      [0, 3, 111, 1, 100],
      [5_000, 3, 1_110, 10, 1_000],
      [10_000, 1, 1_000, 1_000, 1_000],
    ]);
  });

  it('handles a slide that does not divide the size (a reading in 3 or 2 windows)', () => {
    const w: ExpectedWindow = { name: 'odd', type: 'sliding', size: 10, slide: 4 };
    // t=9: windows starting 0, 4, 8. t=10: 4, 8 (the one at 0 ends at 10, exclusive). t=-1: -8, -4.
    const r = run([w], [
      ['d1', 'x', -1, 1],
      ['d1', 'x', 9, 2],
      ['d1', 'x', 10, 4],
    ]);
    expect(r.points.map((p) => [p.time, p.sum])).toEqual([
      [-8, 1],
      [-4, 1],
      [0, 2],
      [4, 6],
      [8, 6],
    ]);
  });

  it('computes every window of several definitions at once, each its own measurement', () => {
    const r = run([TUMBLING, SLIDING, SESSION], [
      ['d1', 't', 1_000, 1],
      ['d1', 't', 6_000, 2],
    ]);
    expect(r.points.map(brief)).toEqual([
      ['w10', 'd1', 't', 0, 2, 3],
      ['s10', 'd1', 't', -5_000, 1, 1],
      ['s10', 'd1', 't', 0, 2, 3],
      ['s10', 'd1', 't', 5_000, 1, 2],
      ['sess', 'd1', 't', 1_000, 2, 3],
    ]);
  });
});

describe('ReferenceModel: first, last, stddev, quantiles', () => {
  it('breaks first ties to the earlier reading and last ties to the later one', () => {
    const r = run([TUMBLING], [
      ['d1', 't', 5, 1],
      ['d1', 't', 5, 2],
      ['d1', 't', 9, 3],
      ['d1', 't', 9, 4],
      ['d1', 't', 7, 5],
    ]);
    expect(r.points[0]).toMatchObject({ first: 1, last: 4 });
  });

  it('takes first and last by event time, not by arrival', () => {
    const r = run([TUMBLING, SESSION], [
      ['d1', 't', 500, 1],
      ['d1', 't', 100, 2],
      ['d1', 't', 900, 3],
      ['d1', 't', 800, 4],
    ]);
    expect(r.points.map((p) => [p.measurement, p.first, p.last])).toEqual([
      ['w10', 2, 3],
      ['sess', 2, 3],
    ]);
  });

  it('computes the population standard deviation', () => {
    const values = [2, 4, 4, 4, 5, 5, 7, 9];
    const r = run([TUMBLING], values.map((v, i): Reading => ['d1', 't', i, v]));
    expect(r.points[0]).toMatchObject({ count: 8, sum: 40, mean: 5, stddev: 2 });
    expect(run([TUMBLING], [['d1', 't', 0, 3.5]]).points[0]!.stddev).toBe(0);
  });

  it('keeps stddev exact far from zero and sums exactly rounded', () => {
    const big = run([TUMBLING], [1e9, 1e9 + 1, 1e9 + 2, 1e9 + 3].map((v, i): Reading => ['d1', 't', i, v]));
    expect(big.points[0]!.stddev).toBe(Math.sqrt(1.25));
    const sum = run([TUMBLING], [1e16, 1, 1, -1e16].map((v, i): Reading => ['d1', 't', i, v]));
    expect(sum.points[0]).toMatchObject({ sum: 2, mean: 0.5 });
    // 0.1 + 0.2 + 0.3 is 0.6000000000000001 added left to right; the exact sum of those doubles rounds to 0.6
    expect(run([TUMBLING], [0.1, 0.2, 0.3].map((v, i): Reading => ['d1', 't', i, v])).points[0]!.sum).toBe(0.6);
  });

  it('gives each quantile as the pair of values at ranks floor and ceil of q·(n−1)', () => {
    const tens = run([TUMBLING], [7, 3, 10, 1, 5, 2, 9, 4, 8, 6].map((v, i): Reading => ['d1', 't', i, v])).points[0]!;
    // n = 10: ranks 4.5, 8.1, 8.91 of 1..10
    expect([tens.p50, tens.p90, tens.p99]).toEqual([[5, 6], [9, 10], [9, 10]]);
    const hundred = run([TUMBLING], Array.from({ length: 101 }, (_, i): Reading => ['d1', 't', i, 100 - i])).points[0]!;
    // n = 101: ranks 50, 90, 99 exactly
    expect([hundred.p50, hundred.p90, hundred.p99]).toEqual([[50, 50], [90, 90], [99, 99]]);
    const one = run([TUMBLING], [['d1', 't', 0, -2.5]]).points[0]!;
    expect([one.p50, one.p90, one.p99, one.min, one.max]).toEqual([[-2.5, -2.5], [-2.5, -2.5], [-2.5, -2.5], -2.5, -2.5]);
    const negatives = run([TUMBLING], [-1, -3, -2].map((v, i): Reading => ['d1', 't', i, v])).points[0]!;
    expect([negatives.p50, negatives.p90]).toEqual([[-2, -2], [-2, -1]]);
  });
});

describe('ReferenceModel: sessions', () => {
  it('joins readings within gap (inclusive) and starts a new session past it; point time = first reading', () => {
    const r = run([SESSION], [
      ['d1', 't', 1_000, 1],
      ['d1', 't', 6_000, 2], // exactly gap after: same session
      ['d1', 't', 11_001, 4], // gap + 1 after: a new one
      ['d2', 't', 3_000, 8], // another series: its own sessions
    ]);
    expect(r.points.map((p) => [p.device, p.time, p.count, p.sum])).toEqual([
      ['d1', 1_000, 2, 3],
      ['d2', 3_000, 1, 8],
      ['d1', 11_001, 1, 4],
    ]);
  });

  it('merges two sessions when a reading bridges them', () => {
    const r = run([SESSION], [
      ['d1', 't', 0, 1],
      ['d1', 't', 3_000, 2],
      ['d1', 't', 10_000, 4],
      ['d1', 't', 11_000, 8],
      ['d1', 't', 20_000, 16], // stays apart
      ['d1', 't', 6_000, 32], // within gap of 3 000 and of 10 000
    ]);
    expect(r.points.map((p) => [p.time, p.count, p.sum, p.first, p.last, p.min, p.max])).toEqual([
      [0, 5, 47, 1, 8, 1, 32],
      [20_000, 1, 16, 16, 16, 16, 16],
    ]);
  });

  it('moves a session start earlier when a reading comes before it within gap', () => {
    const r = run([SESSION], [
      ['d1', 't', 10_000, 1],
      ['d1', 't', 5_000, 2],
      ['d1', 't', 4_999, 4],
    ]);
    expect(r.points.map((p) => [p.time, p.count, p.first, p.last])).toEqual([[4_999, 3, 4, 1]]);
  });

  it('merges a chain of three sessions bridged one reading at a time', () => {
    const r = run([{ name: 's', type: 'session', gap: 15 }], [
      ['d1', 'm', 0, 1],
      ['d1', 'm', 30, 2],
      ['d1', 'm', 60, 3],
      ['d1', 'm', 15, 4],
      ['d1', 'm', 45, 5],
    ]);
    expect(r.points.map((p) => [p.time, p.count, p.sum])).toEqual([[0, 5, 15]]);
  });
});

describe('ReferenceModel: order and advance()', () => {
  /** Readings of 3 devices × 2 metrics over 2 minutes, in time order, values from a fixed sequence. */
  function fleet(): Reading[] {
    const out: Reading[] = [];
    let x = 7;
    for (let t = 0; t < 120_000; t += 137) {
      for (const d of ['d1', 'd2', 'd3']) {
        for (const metric of ['a', 'b']) {
          x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
          // Gaps now and then, so sessions end and start again.
          if ((t / 137) % 50 < 40) out.push([d, metric, t, (x / 2_147_483_648) * 200 - 100]);
        }
      }
    }
    return out;
  }
  const windows: ExpectedWindow[] = [TUMBLING, SLIDING, { name: 'odd', type: 'sliding', size: 10_000, slide: 3_000 }, { name: 'sess', type: 'session', gap: 2_000 }];

  it('gives the same result however often advance() finalises windows on the way', () => {
    const readings = fleet();
    const once = run(windows, readings);
    expect(once.points.length).toBeGreaterThan(100);
    expect(run(windows, readings, 1)).toEqual(once);
    expect(run(windows, readings, 97)).toEqual(once);
  });

  it('frees windows as advance() passes their end, and keeps those that may still change', () => {
    const m = new ReferenceModel([TUMBLING, SESSION], { devicePrefix: 'd' });
    m.add('d1', 't', 1_000, 1);
    m.add('d1', 't', 6_000, 2);
    m.advance(9_999);
    expect(m.finalPoints).toBe(0);
    m.advance(10_000); // [0, 10 000) is final; the session [1 000, 11 001) is not
    expect(m.finalPoints).toBe(1);
    m.add('d1', 't', 11_000, 4); // extends the session to [1 000, 16 001)
    m.advance(16_000);
    expect(m.finalPoints).toBe(1);
    m.advance(16_001);
    expect(m.finalPoints).toBe(2);
    expect(m.result().points.map(brief)).toEqual([
      ['w10', 'd1', 't', 0, 2, 3],
      ['w10', 'd1', 't', 10_000, 1, 4],
      ['sess', 'd1', 't', 1_000, 3, 7],
    ]);
  });

  it('gives the same aggregates for out-of-order input as for the same readings in order', () => {
    const readings = fleet();
    // Deterministic shuffle within each device (times are distinct per series, so first/last do not depend on order).
    const shuffled = readings.map((r, i) => ({ r, k: (i * 7_919) % 1_009 })).sort((a, b) => a.k - b.k).map((x) => x.r);
    expect(run(windows, shuffled)).toEqual(run(windows, readings));
  });

  it('matches a brute-force computation on random input', () => {
    const readings = fleet().filter((_, i) => i % 3 !== 0);
    const got = run(windows, readings, 11);
    const want = bruteForce(windows, readings);
    expect(got.points.map((p) => [p.measurement, p.device, p.metric, p.time, p.count, p.first, p.last, p.min, p.max])).toEqual(want);
  });

  it('refuses a reading before the advance() promise, a device without the prefix, and bad values', () => {
    const m = new ReferenceModel([TUMBLING], { devicePrefix: 'sim-' });
    m.advance(1_000);
    m.add('sim-1', 't', 1_000, 1);
    expect(() => m.add('sim-1', 't', 999, 1)).toThrow(/before 1000/);
    expect(() => m.add('other', 't', 2_000, 1)).toThrow(/device prefix "sim-"/);
    expect(() => m.add('sim-1', 't', 2_000, NaN)).toThrow(/finite/);
    expect(() => m.add('sim-1', 't', 2_000.5, 1)).toThrow(/whole ms/);
    expect(() => new ReferenceModel([{ name: 'x', type: 'sliding', size: 10, slide: 20 }], { devicePrefix: '' })).toThrow(/slide/);
    expect(() => new ReferenceModel([TUMBLING, TUMBLING], { devicePrefix: '' })).toThrow(/twice/);
  });
});

/** Window membership straight from the definitions, per reading; sorted like the model's points. */
function bruteForce(windows: ExpectedWindow[], readings: Reading[]): unknown[][] {
  const out: unknown[][] = [];
  windows.forEach((w) => {
    const groups = new Map<string, { device: string; metric: string; time: number; items: [number, number][] }>();
    const put = (r: Reading, start: number) => {
      const key = `${r[0]}|${r[1]}|${start}`;
      let g = groups.get(key);
      if (g === undefined) groups.set(key, (g = { device: r[0], metric: r[1], time: start, items: [] }));
      g.items.push([r[2], r[3]]);
    };
    if (w.type === 'session') {
      const bySeries = new Map<string, Reading[]>();
      for (const r of readings) bySeries.set(`${r[0]}|${r[1]}`, [...(bySeries.get(`${r[0]}|${r[1]}`) ?? []), r]);
      for (const list of bySeries.values()) {
        const sorted = [...list].sort((a, b) => a[2] - b[2]);
        let start = sorted[0]![2];
        sorted.forEach((r, i) => {
          if (i > 0 && r[2] - sorted[i - 1]![2] > w.gap!) start = r[2];
          put(r, start);
        });
      }
    } else {
      const slide = w.slide ?? w.size!;
      for (const r of readings) {
        for (let s = Math.floor(r[2] / slide) * slide; s > r[2] - w.size!; s -= slide) put(r, s);
      }
    }
    const points = [...groups.values()].map((g) => {
      let first = g.items[0]!;
      let last = g.items[0]!;
      for (const it of g.items) {
        if (it[0] < first[0]) first = it;
        if (it[0] >= last[0]) last = it;
      }
      const values = g.items.map((it) => it[1]);
      return [w.name, g.device, g.metric, g.time, values.length, first[1], last[1], Math.min(...values), Math.max(...values)];
    });
    points.sort((a, b) => (a[3] as number) - (b[3] as number) || String(a[1]).localeCompare(String(b[1])) || String(a[2]).localeCompare(String(b[2])));
    out.push(...points);
  });
  return out;
}
