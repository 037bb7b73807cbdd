/** The alert reference on hand-made window points and messages: each rule kind at its boundaries. */
import { describe, expect, it } from 'vitest';
import type { ExpectedPoint } from '../report.js';
import { AlertReference, globMatches, referenceRules, runsOf } from './index.js';

const W = [{ name: 'w10', type: 'tumbling' as const, size: 10_000 }];
const S = 1000;

/** A point of device/metric whose window starts at second `start` and whose every aggregate is `v` (p50…p99: [v, v]). */
function pt(device: string, metric: string, start: number, v: number, tags?: Record<string, string>): ExpectedPoint {
  return { measurement: 'w10', device, metric, time: start * S, count: 1, sum: v, min: v, max: v, mean: v, first: v, last: v, stddev: 0, p50: [v, v], p90: [v, v], p99: [v, v], ...(tags === undefined ? {} : { tags }) };
}

/** Points of consecutive windows from second `from`, one value each (undefined: no readings in that window). */
function series(device: string, metric: string, from: number, values: (number | undefined)[]): ExpectedPoint[] {
  return values.flatMap((v, i) => (v === undefined ? [] : [pt(device, metric, from + 10 * i, v)]));
}

function reference(rules: unknown[], deviceTags?: Record<string, Record<string, string>>): AlertReference {
  return new AlertReference(referenceRules({ rules }, W), { maxOutOfOrderness: 5_000, quantileRelativeAccuracy: 0.01, deviceTags: (d) => deviceTags?.[d] ?? {} });
}

/** "state@second" of each transition. */
const seen = (ref: AlertReference, points: ExpectedPoint[], horizon = Infinity): string[] => ref.finish(points, horizon).map((a) => `${a.device} ${a.state}@${a.time / S}`);

const hot = { name: 'hot', severity: 'critical', devices: { ids: ['machine-*'] }, threshold: { metric: 't', aggregate: 'mean', op: '>', value: 80, for: 3, clear: { op: '<', value: 75 } } };

describe('threshold', () => {
  it('fires at the end of exactly `for` adjacent windows, not before; a value at the limit does not count', () => {
    expect(seen(reference([hot]), series('machine-1', 't', 0, [81, 81, 81]))).toEqual(['machine-1 firing@30']);
    expect(seen(reference([hot]), series('machine-1', 't', 0, [81, 81, 80, 81, 81]))).toEqual([]);
    expect(seen(reference([{ ...hot, threshold: { ...hot.threshold, for: '30s' } }]), series('machine-1', 't', 0, [70, 81, 81, 81]))).toEqual(['machine-1 firing@40']);
  });

  it('breaks the run on a window without readings', () => {
    expect(seen(reference([hot]), series('machine-1', 't', 0, [81, 81, undefined, 81, 81]))).toEqual([]);
    expect(seen(reference([hot]), series('machine-1', 't', 0, [81, 81, undefined, 81, 81, 81]))).toEqual(['machine-1 firing@60']);
  });

  it('keeps firing between clear and fire (hysteresis), at the clear limit too, and resolves below it', () => {
    const ref = reference([hot]);
    expect(seen(ref, series('machine-1', 't', 0, [81, 81, 81, 78, 80, 75, 74.99, 81]))).toEqual(['machine-1 firing@30', 'machine-1 resolved@70']);
    // without clear: resolves at the first window at or below the limit
    const plain = reference([{ ...hot, threshold: { ...hot.threshold, clear: undefined } }]);
    expect(seen(plain, series('machine-1', 't', 0, [81, 81, 81, 80.5, 80]))).toEqual(['machine-1 firing@30', 'machine-1 resolved@50']);
  });

  it('starts a new run after resolving, selects by glob, and takes each series apart', () => {
    const points = [...series('machine-1', 't', 0, [81, 81, 81, 70, 81, 81, 81]), ...series('machine-2', 't', 0, [81, 81]), ...series('pump-1', 't', 0, [90, 90, 90])];
    expect(seen(reference([hot]), points)).toEqual(['machine-1 firing@30', 'machine-1 resolved@40', 'machine-1 firing@70']);
  });

  it('gives the aggregate as value, the limit as threshold, and a quantile the sketch tolerance', () => {
    const [firing] = reference([hot]).finish(series('machine-1', 't', 0, [81, 82, 83]), Infinity);
    expect(firing).toMatchObject({ rule: 'hot', kind: 'threshold', severity: 'critical', value: 83, threshold: 80, tolerance: { relative: 1e-9, scale: 83 } });
    const p99 = reference([{ ...hot, threshold: { ...hot.threshold, aggregate: 'p99' } }]).finish(series('machine-1', 't', 0, [81, 82, 83]), Infinity);
    expect(p99[0]!.tolerance.relative).toBe(0.01);
  });
});

describe('rate', () => {
  const drop = { name: 'drop', severity: 'warning', rate: { metric: 'p', over: '1m', op: '<', value: -0.5 } };
  it('compares with the window `over` earlier: exactly the limit does not fire, below it does, and it resolves where the rate no longer holds', () => {
    // 100 for 6 windows, then 70 (−30 over 60 s = −0.5: not below), then 69: −31/60 against 100 until the window ending at 130 compares with 70
    const points = series('pump-1', 'p', 0, [100, 100, 100, 100, 100, 100, 70, 69, 69, 69, 69, 69, 69, 69]);
    const out = reference([drop]).finish(points, Infinity);
    expect(out.map((a) => `${a.state}@${a.time / S}`)).toEqual(['firing@80', 'resolved@130']);
    expect(out[0]!.value).toBeCloseTo(-31 / 60, 12);
    expect(out[1]!.value).toBeCloseTo(-1 / 60, 12);
    expect(out[1]!.threshold).toBe(-0.5);
  });
  it('has no rate where the earlier window has no point', () => {
    expect(seen(reference([drop]), series('pump-1', 'p', 0, [100, undefined, undefined, undefined, undefined, undefined, undefined, 0]))).toEqual([]);
  });
});

describe('sequence', () => {
  const door = { name: 'door', severity: 'warning', devices: { tags: { room: 'cold' } }, sequence: { first: { metric: 'door', aggregate: 'max', op: '>=', value: 1 }, then: { metric: 't', aggregate: 'mean', op: '>', value: 8 }, within: '5m' } };
  const tags = { 'room-1': { room: 'cold' } };
  it('fires on `then` within `within` after `first` (not in the same window, not later), resolves when `then` no longer holds', () => {
    const points = [pt('room-1', 'door', 0, 1), ...series('room-1', 't', 0, [9, 5, 5]), ...series('room-1', 't', 300, [9, 9, 8])];
    // the warm window 0 ends with the door's: not after it; the one ending at 310 is exactly 5 m after the door's end (10): fires
    expect(seen(reference([door], tags), points)).toEqual(['room-1 firing@310', 'room-1 resolved@330']);
    const late = [pt('room-1', 'door', 0, 1), ...series('room-1', 't', 310, [9])];
    expect(seen(reference([door], tags), late)).toEqual([]);
  });
  it('uses up the door a firing paired with, and selects by registry tags', () => {
    const points = [pt('room-1', 'door', 0, 1), ...series('room-1', 't', 10, [9, 5, 9, 5]), pt('room-1', 'door', 50, 1), ...series('room-1', 't', 60, [9]), pt('room-2', 'door', 0, 1), ...series('room-2', 't', 10, [9])];
    expect(seen(reference([door], tags), points)).toEqual(['room-1 firing@20', 'room-1 resolved@30', 'room-1 firing@70']);
  });
});

describe('absence', () => {
  const silent = { name: 'silent', severity: 'warning', absence: { for: '2m' } };
  const only = { name: 'quiet-v', severity: 'info', absence: { metric: 'v', for: '2m' } };
  const msg = (ref: AlertReference, device: string, second: number, metric = 'v'): void => ref.message(device, [{ metric, newest: second * S }]);
  it('fires a silence of for + maxOutOfOrderness + 10 s, dated the last reading + for, resolved by the next reading', () => {
    const ref = reference([silent]);
    msg(ref, 'm', 0);
    msg(ref, 'm', 135);
    expect(seen(ref, [], 135 * S)).toEqual(['m firing@120', 'm resolved@135']);
    expect(ref.finish([], 135 * S).find((a) => a.state === 'resolved')!.value).toBe(135);
  });
  it('does not fire a silence shorter than for − 10 s, and counts one in between as undecided', () => {
    const ref = reference([silent]);
    msg(ref, 'm', 0);
    msg(ref, 'm', 109.999);
    msg(ref, 'm', 229.999 + 5); // 125 s: neither clearly short nor clearly long
    expect(seen(ref, [], 234.999 * S)).toEqual([]);
    expect(ref.undecided).toBe(1);
  });
  it('fires for a device silent at the end when the silence ends within the horizon; watches one metric when told', () => {
    const ref = reference([silent, only]);
    msg(ref, 'a', 0);
    msg(ref, 'a', 100, 'w'); // not v: quiet-v still waits for v
    msg(ref, 'b', 0, 'w');
    expect(seen(ref, [], 221 * S)).toEqual(['a firing@120', 'b firing@120', 'a firing@220']);
  });
  it('reads the runs of a message as the processors do: series by metric, rows by consecutive metric', () => {
    expect(runsOf(['t', 'h', 't'], [1, 2, 3], 'series')).toEqual([{ metric: 't', newest: 3 }, { metric: 'h', newest: 2 }]);
    expect(runsOf(['t', 't', 'h', 't'], [1, 2, 3, 4], 'rows')).toEqual([{ metric: 't', newest: 2 }, { metric: 'h', newest: 3 }, { metric: 't', newest: 4 }]);
  });
});

describe('globs', () => {
  it('match * as any run of characters and everything else literally', () => {
    expect(globMatches('machine-*', 'machine-1')).toBe(true);
    expect(globMatches('machine-*', 'machine-')).toBe(true);
    expect(globMatches('machine-*', 'xmachine-1')).toBe(false);
    expect(globMatches('*-cold-*', 'a-cold-b')).toBe(true);
    expect(globMatches('a*b*c', 'abc')).toBe(true);
    expect(globMatches('a*b*c', 'acb')).toBe(false);
    expect(globMatches('a.b', 'axb')).toBe(false);
  });
});
