/** verify's comparison against a fake store: tolerances, negative quantiles, missing/extra/mismatched, the output. */
import { describe, expect, it } from 'vitest';
import { REPORT_VERSION, type ExpectedPoint, type ExpectedResult, type SimulationReport } from '../report.js';
import { checkReport, closeEnough, compareFields, formatVerifyResult, quantileWithin, verifyExpected, type StoredPoint, type StoredPointQuery, type StoredPointSource } from './index.js';
import { JsonObjectSplitter } from './json-stream.js';

const T0 = 1_700_000_000_000;

function point(device: string, time: number, extra: Partial<ExpectedPoint> = {}): ExpectedPoint {
  return { measurement: 'w10', device, metric: 'temp', time, count: 3, sum: 66, min: 20, max: 24, mean: 22, first: 20, last: 24, stddev: Math.sqrt(8 / 3), p50: [22, 22], p90: [22, 24], p99: [22, 24], ...extra };
}

function expectedOf(points: ExpectedPoint[]): ExpectedResult {
  return { windows: [{ name: 'w10', type: 'tumbling', size: 10_000 }], quantileRelativeAccuracy: 0.01, devicePrefix: 'sim-', eventTimeRange: { from: T0, to: T0 + 20_000 }, readings: 3 * points.length, points };
}

/** What the processors would store for an expected point: count as an integer, quantiles at the lower rank. */
function stored(p: ExpectedPoint, fields: Record<string, unknown> = {}): StoredPoint {
  return {
    measurement: p.measurement,
    time: p.time,
    tags: { device: p.device, metric: p.metric, ...p.tags },
    fields: { count: p.count, sum: p.sum, min: p.min, max: p.max, mean: p.mean, first: p.first, last: p.last, stddev: p.stddev, p50: p.p50[0], p90: p.p90[0], p99: p.p99[0], ...fields },
  };
}

/** A store in memory that answers like InfluxDB: the measurement, devices by prefix, times in range, in two batches. */
class FakeStore implements StoredPointSource {
  readonly description = 'a fake store';
  readonly queries: StoredPointQuery[] = [];
  constructor(readonly points: StoredPoint[]) {}
  async *scan(q: StoredPointQuery): AsyncIterable<StoredPoint[]> {
    this.queries.push(q);
    const hits = this.points.filter((p) => p.measurement === q.measurement && p.tags.device!.startsWith(q.devicePrefix) && p.time >= q.from && p.time <= q.to);
    yield hits.slice(0, 1);
    yield hits.slice(1);
  }
}

describe('tolerances', () => {
  it('accepts floats within 1e-9 relative, with a floor on the scale of the values for results near 0', () => {
    expect(closeEnough(1, 1 + 5e-10)).toBe(true);
    expect(closeEnough(1, 1 + 2e-9)).toBe(false);
    expect(closeEnough(-1e12, -1e12 - 900)).toBe(true);
    expect(closeEnough(0, 1e-17)).toBe(false);
    expect(closeEnough(0, 1e-17, 100)).toBe(true); // a sum that cancels to 0 over values of ~100
    expect(closeEnough(0, 1e-6, 100)).toBe(false);
    expect(closeEnough(0, 0)).toBe(true);
  });

  it('accepts a quantile within α of either rank value, also for negative values', () => {
    expect(quantileWithin(100, 200, 99.0001, 0.01)).toBe(true);
    expect(quantileWithin(100, 200, 98.9, 0.01)).toBe(false);
    expect(quantileWithin(100, 200, 201.9, 0.01)).toBe(true);
    expect(quantileWithin(100, 200, 202.1, 0.01)).toBe(false);
    // negative: [-200, -100] widens to [-202, -99]
    expect(quantileWithin(-200, -100, -201.9, 0.01)).toBe(true);
    expect(quantileWithin(-200, -100, -202.1, 0.01)).toBe(false);
    expect(quantileWithin(-200, -100, -99.1, 0.01)).toBe(true);
    expect(quantileWithin(-200, -100, -98.9, 0.01)).toBe(false);
    // across zero, and exactly zero
    expect(quantileWithin(-1, 1, 0, 0.01)).toBe(true);
    expect(quantileWithin(0, 0, 0, 0.01)).toBe(true);
    expect(quantileWithin(0, 0, 1e-9, 0.01)).toBe(false);
  });

  it('compares count exactly and names every differing field with both values', () => {
    const p = point('sim-1', T0);
    expect(compareFields(p, stored(p).fields, 0.01)).toEqual([]);
    expect(compareFields(p, stored(p, { p50: 22 * 1.0099, p90: 24 * 1.0099, p99: 22 * 0.9901 }).fields, 0.01)).toEqual([]);
    const diffs = compareFields(p, stored(p, { count: 4, sum: 66.00001, p90: 24.25, last: null }).fields, 0.01);
    expect(diffs).toEqual([
      { field: 'count', expected: 3, stored: 4 },
      { field: 'sum', expected: 66, stored: 66.00001 },
      { field: 'last', expected: 24, stored: null },
      { field: 'p90', expected: [22, 24], stored: 24.25 },
    ]);
  });
});

describe('verifyExpected', () => {
  const a = point('sim-1', T0);
  const b = point('sim-1', T0 + 10_000, { sum: 70 });
  const c = point('sim-2', T0, { tags: { site: 'oslo' } });
  const d = point('sim-3', T0 + 10_000);

  it('is exact when every expected point is stored with matching fields', async () => {
    const store = new FakeStore([stored(a), stored(b), stored(c), stored(d), { ...stored(a), tags: { device: 'other-1', metric: 'temp' } }]);
    const r = await verifyExpected(expectedOf([a, b, c, d]), store);
    expect(r.exact).toBe(true);
    expect(r.measurements).toEqual([{ measurement: 'w10', expected: 4, found: 4, missing: 0, extra: 0, mismatched: 0 }]);
    // a tumbling window holding a reading at `from` starts up to size − 1 ms before it
    expect(store.queries).toEqual([{ measurement: 'w10', devicePrefix: 'sim-', from: T0 - 9_999, to: T0 + 20_000 }]);
    expect(formatVerifyResult(r)).toMatch(/verify: exact \(4 points\)\n$/);
  });

  it('classifies missing, extra and mismatched points and lists exactly those', async () => {
    const e = { ...stored(d), tags: { device: 'sim-9', metric: 'temp' } }; // not expected: extra
    const cWrongTags = { ...stored(c), tags: { device: 'sim-2', metric: 'temp', site: 'bergen' } }; // other series: extra, and c missing
    const store = new FakeStore([stored(a), stored(b, { sum: 71, p50: -3 }), cWrongTags, e]);
    const r = await verifyExpected(expectedOf([a, b, c, d]), store);
    expect(r.exact).toBe(false);
    expect(r.total).toEqual({ expected: 4, found: 2, missing: 2, extra: 2, mismatched: 1 });
    expect(r.missing).toEqual([
      { measurement: 'w10', device: 'sim-2', metric: 'temp', tags: { site: 'oslo' }, time: T0 },
      { measurement: 'w10', device: 'sim-3', metric: 'temp', time: T0 + 10_000 },
    ]);
    expect(r.extra).toEqual([
      { measurement: 'w10', device: 'sim-2', metric: 'temp', tags: { site: 'bergen' }, time: T0 },
      { measurement: 'w10', device: 'sim-9', metric: 'temp', time: T0 + 10_000 },
    ]);
    expect(r.mismatched).toEqual([
      {
        measurement: 'w10', device: 'sim-1', metric: 'temp', time: T0 + 10_000,
        diffs: [
          { field: 'sum', expected: 70, stored: 71 },
          { field: 'p50', expected: [22, 22], stored: -3 },
        ],
      },
    ]);
    const text = formatVerifyResult(r);
    expect(text).toContain('missing (2):\n  w10  sim-2  temp site=oslo  2023-11-14T22:13:20.000Z\n  w10  sim-3  temp  2023-11-14T22:13:30.000Z\n');
    expect(text).toContain('mismatched (1):\n  w10  sim-1  temp  2023-11-14T22:13:30.000Z  sum: expected 70, stored 71; p50: expected 22 ±1%, stored -3\n');
    expect(text).toContain('extra (2):');
    expect(text).toMatch(/verify: NOT exact: 2 missing, 1 mismatched, 2 extra \(of 4 expected points\)\n$/);
  });

  it('lists only the first maxListed of each kind, earliest window first, but counts all', async () => {
    const points = Array.from({ length: 20 }, (_, i) => point(`sim-${i}`, T0 + 10_000 * (19 - i)));
    const r = await verifyExpected(expectedOf(points), new FakeStore([]), { maxListed: 3 });
    expect(r.total.missing).toBe(20);
    expect(r.missing.map((p) => p.device)).toEqual(['sim-19', 'sim-18', 'sim-17']);
    expect(formatVerifyResult(r)).toContain('missing (20, first 3 listed):');
  });

  it('treats empty tag values as absent (InfluxDB fills missing tags with "" under GROUP BY *)', async () => {
    const r = await verifyExpected(expectedOf([a]), new FakeStore([{ ...stored(a), tags: { device: 'sim-1', metric: 'temp', site: '' } }]));
    expect(r.exact).toBe(true);
  });

  it('looks for every window type in its own measurement and range, and refuses a report of another version', async () => {
    const s = { ...point('sim-1', T0 + 5), measurement: 'sess' };
    const expected: ExpectedResult = { ...expectedOf([a, s]), windows: [{ name: 'w10', type: 'tumbling', size: 10_000 }, { name: 'sl', type: 'sliding', size: 60_000, slide: 10_000 }, { name: 'sess', type: 'session', gap: 30_000 }] };
    const store = new FakeStore([stored(a), stored(s)]);
    const r = await verifyExpected(expected, store);
    expect(r.exact).toBe(true);
    expect(r.measurements.map((m) => [m.measurement, m.expected, m.found])).toEqual([['w10', 1, 1], ['sl', 0, 0], ['sess', 1, 1]]);
    expect(store.queries.map((q) => [q.measurement, q.from - T0, q.to - T0])).toEqual([['w10', -9_999, 20_000], ['sl', -59_999, 20_000], ['sess', 0, 20_000]]);
    const report = { version: REPORT_VERSION, expected } as SimulationReport;
    expect(() => checkReport(report)).not.toThrow();
    expect(() => checkReport({ ...report, version: 99 })).toThrow(expect.objectContaining({ code: 'SLUICE_VERIFY_REPORT_INVALID', message: expect.stringMatching(/version 99.*reads version 1/) }));
    expect(() => checkReport({ version: REPORT_VERSION })).toThrow(/no complete `expected` section/);
  });
});

describe('JsonObjectSplitter', () => {
  it('splits concatenated objects at any chunk boundary, braces inside strings included', () => {
    const objects = ['{"results":[{"series":[{"name":"a{b","values":[[1,"x\\"}"]]}]}]}', '{"results":[]}', '{"error":"e"}'];
    const text = `${objects[0]}\n${objects[1]}${objects[2]}\n`;
    for (const size of [1, 3, 7, text.length]) {
      const s = new JsonObjectSplitter();
      const out: string[] = [];
      for (let i = 0; i < text.length; i += size) out.push(...s.push(text.slice(i, i + size)));
      expect(out).toEqual(objects);
      expect(s.incomplete).toBe(false);
    }
    const cut = new JsonObjectSplitter();
    expect(cut.push('{"results":[')).toEqual([]);
    expect(cut.incomplete).toBe(true);
  });
});

describe('late readings', () => {
  const latePoint = (device: string, time: number, value: number, window = 'w10'): StoredPoint => ({ measurement: 'late_readings', time, tags: { device, metric: 'temp', window }, fields: { value } });
  const withLate = (late: ExpectedResult['late'], undecided?: number): ExpectedResult => ({ ...expectedOf([point('sim-1', T0)]), late, lateReadings: late!.length, ...(undecided === undefined ? {} : { undecided }) });

  it('finds each expected late reading by series, window and time, with one of its values', async () => {
    const expected = withLate([
      { window: 'w10', device: 'sim-1', metric: 'temp', time: T0 + 5, values: [7] },
      { window: 'w10', device: 'sim-2', metric: 'temp', time: T0 + 9, values: [1, 2] },
    ]);
    const store = new FakeStore([stored(point('sim-1', T0)), latePoint('sim-1', T0 + 5, 7), latePoint('sim-2', T0 + 9, 2)]);
    const r = await verifyExpected(expected, store);
    expect(r.exact).toBe(true);
    expect(r.measurements.find((m) => m.measurement === 'late_readings')).toMatchObject({ expected: 2, found: 2 });
  });

  it('reports a late reading missing, one of another window as extra, and a wrong value as mismatched', async () => {
    const expected = withLate([
      { window: 'w10', device: 'sim-1', metric: 'temp', time: T0 + 5, values: [7] },
      { window: 'w10', device: 'sim-2', metric: 'temp', time: T0 + 9, values: [1] },
    ]);
    const store = new FakeStore([stored(point('sim-1', T0)), latePoint('sim-1', T0 + 5, 7, 'other'), latePoint('sim-2', T0 + 9, 3)]);
    const r = await verifyExpected(expected, store);
    expect(r.exact).toBe(false);
    expect(r.measurements.find((m) => m.measurement === 'late_readings')).toMatchObject({ expected: 2, found: 1, missing: 1, extra: 1, mismatched: 1 });
    expect(r.mismatched[0]!.diffs).toEqual([{ field: 'value', expected: 1, stored: 3 }]);
  });

  it('is never exact while some buffered readings were left undecided', async () => {
    const r = await verifyExpected(withLate([], 12), new FakeStore([stored(point('sim-1', T0))]));
    expect(r.exact).toBe(false);
    expect(formatVerifyResult(r)).toMatch(/^undecided: 12 buffered readings/m);
  });
});
