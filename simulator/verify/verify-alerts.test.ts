/** verify's alert comparison against a fake store: found, missing, extra, mismatched, silences after the run, episode devices by id. */
import { describe, expect, it } from 'vitest';
import type { ExpectedAlert, ExpectedResult } from '../report.js';
import { formatVerifyResult, verifyExpected, type StoredPoint, type StoredPointQuery, type StoredPointSource } from './index.js';

const T0 = 1_700_000_000_000;

class FakeStore implements StoredPointSource {
  readonly description = 'a fake store';
  readonly queries: StoredPointQuery[] = [];
  constructor(readonly points: StoredPoint[]) {}
  async *scan(q: StoredPointQuery): AsyncIterable<StoredPoint[]> {
    this.queries.push(q);
    const device = (p: StoredPoint): boolean => (q.exact === true ? p.tags.device === q.devicePrefix : p.tags.device!.startsWith(q.devicePrefix));
    yield this.points.filter((p) => p.measurement === q.measurement && device(p) && p.time >= q.from && p.time <= q.to);
  }
}

const alert = (rule: string, kind: ExpectedAlert['kind'], device: string, state: 'firing' | 'resolved', time: number, value: number, threshold: number): ExpectedAlert => ({
  rule, kind, device, state, time, severity: 'warning', value, threshold, tolerance: { relative: kind === 'absence' ? 0 : 1e-9, scale: 100 },
});

function stored(a: ExpectedAlert, fields: Record<string, unknown> = {}, tags: Record<string, string> = {}): StoredPoint {
  return { measurement: 'alerts', time: a.time, tags: { rule: a.rule, device: a.device, severity: a.severity, state: a.state, ...tags }, fields: { firing: a.state === 'firing' ? 1 : 0, value: a.value, threshold: a.threshold, id: 'x', description: '', ...fields } };
}

function expectedOf(alerts: ExpectedAlert[]): ExpectedResult {
  return {
    windows: [], quantileRelativeAccuracy: 0.01, devicePrefix: 'sim-', eventTimeRange: { from: T0, to: T0 + 60_000 }, readings: 0, points: [],
    devices: ['machine-a'], alerts, alertRules: [{ name: 'hot', kind: 'threshold' }, { name: 'silent', kind: 'absence' }], alertHorizon: T0 + 60_000,
  };
}

describe('verify alerts', () => {
  const fire = alert('hot', 'threshold', 'machine-a', 'firing', T0 + 30_000, 85.000000001, 80);
  const resolve = alert('hot', 'threshold', 'machine-a', 'resolved', T0 + 50_000, 70, 75);
  const quiet = alert('silent', 'absence', 'sim-00001', 'firing', T0 + 40_000, 120, 120);

  it('is exact when every transition is stored, values within tolerance; looks up episode devices by exact id; leaves out silences after the run', async () => {
    const afterRun = alert('silent', 'absence', 'sim-00002', 'firing', T0 + 61_000, 120, 120);
    const store = new FakeStore([stored(fire, { value: 85 }), stored(resolve), stored(quiet), stored(afterRun), stored({ ...fire, device: 'machine-ab' })]);
    const r = await verifyExpected(expectedOf([fire, resolve, quiet]), store);
    expect(r.exact).toBe(true);
    expect(r.measurements).toEqual([{ measurement: 'alerts', expected: 3, found: 3, missing: 0, extra: 0, mismatched: 0 }]);
    expect(r.alerts).toEqual({ afterHorizon: 1, beforeRun: 0, undecided: 0, expected: { hot: { firing: 1, resolved: 1 }, silent: { firing: 1, resolved: 0 } } });
    expect(store.queries.map((q) => [q.devicePrefix, q.exact ?? false])).toEqual([['sim-', false], ['machine-a', true]]);
    expect(formatVerifyResult(r)).toContain('alerts: compared by rule, device, state and time');
    expect(formatVerifyResult(r)).toContain('1 absence alerts dated after the run');
  });

  it('reports missing, extra (another time, state or rule) and mismatched (value, threshold, severity, tags) transitions', async () => {
    const early = { ...resolve, time: resolve.time - 10_000 };
    const store = new FakeStore([stored(fire, { value: 86, threshold: 81 }), stored(early), stored(quiet, {}, { site: 'oslo' })]);
    const r = await verifyExpected(expectedOf([fire, resolve, quiet]), store);
    expect(r.exact).toBe(false);
    expect(r.total).toEqual({ expected: 3, found: 2, missing: 1, extra: 1, mismatched: 2 });
    expect(r.missing).toEqual([{ measurement: 'alerts', device: 'machine-a', metric: 'rule=hot state=resolved', time: resolve.time }]);
    expect(r.extra).toEqual([{ measurement: 'alerts', device: 'machine-a', metric: 'rule=hot state=resolved', time: early.time }]);
    expect(r.mismatched.map((m) => m.diffs.map((d) => d.field))).toEqual([['value', 'threshold'], ['tags [["site","oslo"]], expected []']]);
  });

  it('leaves out a silence from before the run resolved at a device\'s first reading, and looks for the fleet from its first reading', async () => {
    const resolvedAtStart = alert('silent', 'absence', 'sim-00003', 'resolved', T0 + 20_000, 300, 120);
    const expected = { ...expectedOf([quiet]), fleetFrom: T0 + 20_000, alertOpenings: [{ rule: 'silent', device: 'sim-00003', time: T0 + 20_000 }] };
    const store = new FakeStore([stored(quiet), stored(resolvedAtStart), stored({ ...resolvedAtStart, device: 'sim-00004' })]);
    const r = await verifyExpected(expected, store);
    expect(r.total).toMatchObject({ found: 1, missing: 0, extra: 1 });
    expect(r.alerts!.beforeRun).toBe(1);
    expect(store.queries.map((q) => [q.devicePrefix, q.from - T0])).toEqual([['sim-', 20_000], ['machine-a', 0]]);
  });

  it('is not exact while a silence was undecided', async () => {
    const r = await verifyExpected({ ...expectedOf([]), undecidedAlerts: 2 }, new FakeStore([]));
    expect(r.exact).toBe(false);
    expect(formatVerifyResult(r)).toMatch(/2 undecided silences/);
  });
});
