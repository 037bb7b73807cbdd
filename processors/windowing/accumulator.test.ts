import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StateCorruptError } from '../errors.js';
import { EXACT_QUANTILE_LIMIT, WindowAccumulator, type AggregateResult } from './accumulator.js';

type Reading = [time: number, value: number];

/**
 * The straightforward answer, from the readings in arrival order. Quantiles follow
 * DDSketch's definition: q is the sorted value at 0-based rank floor(q · (n − 1)) (the
 * lower one, no interpolation); the sketch returns it within 1 % relative error.
 */
function reference(readings: Reading[]): AggregateResult {
  const values = readings.map(([, v]) => v);
  const n = values.length;
  const sum = values.reduce((a, v) => a + v, 0);
  const mean = sum / n;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / n;
  let first = readings[0]!;
  let last = readings[0]!;
  for (const r of readings) {
    if (r[0] < first[0]) first = r; // ties: the earlier arrival stays
    if (r[0] >= last[0]) last = r; // ties: the later arrival wins
  }
  const sorted = [...values].sort((a, b) => a - b);
  const q = (p: number): number => sorted[Math.floor(p * (n - 1))]!;
  return { count: n, sum, min: sorted[0]!, max: sorted[n - 1]!, mean, first: first[1], last: last[1], stddev: Math.sqrt(variance), p50: q(0.5), p90: q(0.9), p99: q(0.99) };
}

/**
 * Sums and moments are compared within 1e-9 relative. A float sum's error is relative to
 * Σ|x|, not to the result (which can cancel to ~0), so that is the scale for sum and mean;
 * stddev gets a floor of 1e-3·max|x| for the same reason.
 */
function expectMatches(got: AggregateResult, readings: Reading[]): void {
  const want = reference(readings);
  const abs = readings.reduce((a, [, v]) => a + Math.abs(v), 0);
  const maxAbs = readings.reduce((a, [, v]) => Math.max(a, Math.abs(v)), 0);
  const close = (a: number, b: number, scale: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(b), scale);
  expect(got.count).toBe(want.count);
  expect({ min: got.min, max: got.max, first: got.first, last: got.last }).toEqual({ min: want.min, max: want.max, first: want.first, last: want.last });
  expect(close(got.sum, want.sum, abs), `sum ${got.sum} vs ${want.sum}`).toBe(true);
  expect(close(got.mean, want.mean, abs / want.count), `mean ${got.mean} vs ${want.mean}`).toBe(true);
  expect(close(got.stddev, want.stddev, 1e-3 * maxAbs), `stddev ${got.stddev} vs ${want.stddev}`).toBe(true);
  for (const p of ['p50', 'p90', 'p99'] as const) {
    expect(Math.abs(got[p] - want[p]) <= 0.01 * Math.abs(want[p]) * (1 + 1e-12), `${p} ${got[p]} vs exact ${want[p]}`).toBe(true);
  }
}

function accumulate(readings: Reading[]): WindowAccumulator {
  const acc = new WindowAccumulator();
  for (const [t, v] of readings) acc.add(t, v);
  return acc;
}

// Values span 1e-3..1e6 in magnitude (within the sketch's uncollapsed range of ~6e17), both signs, exact zeros.
const value = fc.oneof(
  fc.double({ min: 1e-3, max: 1e6, noNaN: true }),
  fc.double({ min: -1e6, max: -1e-3, noNaN: true }),
  fc.integer({ min: -100, max: 100 }),
  fc.constant(0),
);
// Few distinct times, so ties for first and last are common.
const readingsArb = fc.array(fc.tuple(fc.integer({ min: -3, max: 3 }), value), { minLength: 1, maxLength: 300 });

describe('WindowAccumulator', () => {
  it('matches the reference on random data', () => {
    fc.assert(fc.property(readingsArb, (readings) => expectMatches(accumulate(readings).result(), readings)), { numRuns: 300 });
  });

  it('merged in pieces (as sessions are) matches the reference, later pieces counting as later arrivals', () => {
    fc.assert(
      fc.property(readingsArb, fc.array(fc.nat(), { maxLength: 5 }), (readings, cuts) => {
        const points = [...new Set(cuts.map((c) => c % readings.length))].sort((a, b) => a - b);
        const bounds = [0, ...points, readings.length];
        const acc = new WindowAccumulator();
        for (let i = 0; i + 1 < bounds.length; i++) acc.merge(accumulate(readings.slice(bounds[i], bounds[i + 1])));
        expectMatches(acc.result(), readings);
        // quantiles depend only on the bins, so they are identical to the unmerged ones
        const whole = accumulate(readings).result();
        expect([acc.result().p50, acc.result().p90, acc.result().p99]).toEqual([whole.p50, whole.p90, whole.p99]);
      }),
      { numRuns: 200 },
    );
  });

  it('reports an overflowing sum or variance as such, and keeps count, min, max and mean', () => {
    const huge = new WindowAccumulator();
    huge.add(1, 1.7e308);
    huge.add(2, 1.7e308);
    expect(huge.result()).toMatchObject({ count: 2, sum: Infinity, min: 1.7e308, max: 1.7e308, mean: 1.7e308, first: 1.7e308, last: 1.7e308 });
    const wide = new WindowAccumulator();
    wide.add(1, 1e200);
    wide.add(2, -1e200);
    expect(wide.result()).toMatchObject({ count: 2, sum: 0, mean: 0, min: -1e200, max: 1e200, stddev: Infinity });
  });

  it('keeps stddev exact far from zero (no Σx² cancellation)', () => {
    const acc = accumulate([0, 1, 2, 3, 4].map((i) => [i, 1e9 + i]));
    expect(acc.result().stddev).toBe(Math.SQRT2);
    expect(acc.result().mean).toBe(1e9 + 2);
  });

  it('gives ties for first to the earlier arrival and for last to the later', () => {
    const r = accumulate([[5, 1], [5, 2], [3, 7], [3, 8], [9, 4], [9, 6]]).result();
    expect([r.first, r.last]).toEqual([7, 6]);
  });

  it('is all NaN but count and sum when empty, and merging an empty one changes nothing', () => {
    const empty = new WindowAccumulator().result();
    expect(Object.entries(empty).filter(([, v]) => !Number.isNaN(v))).toEqual([['count', 0], ['sum', 0]]);
    const acc = accumulate([[1, 2]]);
    acc.merge(new WindowAccumulator());
    expect(acc.result()).toMatchObject({ count: 1, sum: 2, p50: expect.closeTo(2, 1) });
    const into = new WindowAccumulator();
    into.merge(acc);
    expect(into.result()).toEqual(acc.result());
  });

  it('round-trips through serialize exactly, and keeps doing so with further inputs', () => {
    fc.assert(
      fc.property(readingsArb, readingsArb, (before, after) => {
        const live = accumulate(before);
        const bytes = live.serialize();
        const restored = WindowAccumulator.deserialize(bytes);
        expect(restored.result()).toEqual(live.result());
        expect(restored.serialize()).toEqual(bytes);
        for (const [t, v] of after) {
          live.add(t, v);
          restored.add(t, v);
        }
        live.merge(accumulate(after));
        restored.merge(WindowAccumulator.deserialize(accumulate(after).serialize()));
        const a = live.result();
        const b = restored.result();
        for (const k of Object.keys(a) as (keyof AggregateResult)[]) expect(Object.is(a[k], b[k]), k).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('is compact: ~90 bytes plus 8 per raw value, or per occupied sketch bin', () => {
    const sparse = accumulate(Array.from({ length: 10 }, (_, i): Reading => [i * 1000, 21 + i * 0.1]));
    expect(sparse.serialize().length).toBe(1 + 88 + 1 + 1 + 80);
    const dense = accumulate(Array.from({ length: 1000 }, (_, i): Reading => [i, 21 + (i % 100) / 100]));
    expect(dense.serialize().length).toBeLessThan(160); // 21.00–21.99 spans 3 bins of 1 %
  });

  it('stores a single reading in 17 bytes and restores exactly the same state, −0 included', () => {
    for (const v of [21.5, -3, 0, -0, 1e300, -Number.MIN_VALUE]) {
      const one = accumulate([[1_700_000_000_123, v]]);
      const bytes = one.serialize();
      expect(bytes.length).toBe(17);
      const back = WindowAccumulator.deserialize(bytes);
      const [a, b] = [one.result(), back.result()];
      for (const k of Object.keys(a) as (keyof AggregateResult)[]) expect(Object.is(a[k], b[k]), `${k} of ${v}`).toBe(true);
      back.add(5, 2);
      one.add(5, 2);
      expect(back.serialize()).toEqual(one.serialize());
    }
    const merged = new WindowAccumulator();
    merged.merge(accumulate([[1, 2]]));
    expect(merged.serialize().length).toBe(17); // an empty one that took in one reading is the same state
    expect(() => WindowAccumulator.deserialize(new Uint8Array([3, ...new Uint8Array(new Float64Array([1, NaN]).buffer)]))).toThrow(/reading \(1, NaN\)/);
  });

  it('computes quantiles exactly up to EXACT_QUANTILE_LIMIT values, then from the sketch', () => {
    const values = Array.from({ length: EXACT_QUANTILE_LIMIT + 1 }, (_, i) => 100 + i * 1.37);
    const exact = accumulate(values.slice(0, EXACT_QUANTILE_LIMIT).map((v, i): Reading => [i, v])).result();
    const ref = reference(values.slice(0, EXACT_QUANTILE_LIMIT).map((v, i): Reading => [i, v]));
    expect([exact.p50, exact.p90, exact.p99]).toEqual([ref.p50, ref.p90, ref.p99]);
    const sketched = accumulate(values.map((v, i): Reading => [i, v])).result();
    expect(sketched.p50).not.toBe(reference(values.map((v, i): Reading => [i, v])).p50); // a bin's representative now
    expectMatches(sketched, values.map((v, i): Reading => [i, v]));
  });

  it('refuses corrupt bytes with StateCorruptError', () => {
    const bytes = accumulate([[1, 2], [2, -3]]).serialize();
    expect(() => WindowAccumulator.deserialize(bytes.subarray(0, 50))).toThrow(StateCorruptError);
    expect(() => WindowAccumulator.deserialize(new Uint8Array([...bytes, 0]))).toThrow(/trailing/);
    expect(() => WindowAccumulator.deserialize(new Uint8Array([9, ...bytes.subarray(1)]))).toThrow(/format 9/);
    const wrongCount = new Uint8Array(bytes);
    new DataView(wrongCount.buffer).setFloat64(1, 3, true);
    expect(() => WindowAccumulator.deserialize(wrongCount)).toThrow(/count 3/);
  });

  it('addMany over slices leaves exactly the state of add() per reading (same sums, same sketch bins)', () => {
    // Wide values too: 1e-300 next to 1e300 makes a sketch store collapse (its path stays the library's).
    const anyValue = fc.oneof(value, fc.double({ min: -1e300, max: 1e300, noNaN: true, noDefaultInfinity: true }), fc.constantFrom(1e-300, -1e-300, -0));
    const readings = fc.array(fc.tuple(fc.integer({ min: -3, max: 3 }), anyValue), { minLength: 1, maxLength: 400 });
    fc.assert(
      fc.property(readings, fc.array(fc.nat(), { maxLength: 8 }), (rs, cuts) => {
        const one = accumulate(rs);
        const time = Float64Array.from(rs, ([t]) => t);
        const values = Float64Array.from(rs, ([, v]) => v);
        const bulk = new WindowAccumulator();
        const bounds = [...new Set([0, ...cuts.map((c) => c % rs.length), rs.length])].sort((a, b) => a - b);
        for (let i = 1; i < bounds.length; i++) bulk.addMany(time, values, bounds[i - 1]!, bounds[i]!);
        expect(bulk.serialize()).toEqual(one.serialize());
        const [a, b] = [bulk.result(), one.result()];
        for (const k of Object.keys(b) as (keyof AggregateResult)[]) expect(Object.is(a[k], b[k]), `${k}: ${a[k]} vs ${b[k]}`).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('clear() leaves the state of a new accumulator, and its sketch serves the next one like a new sketch', () => {
    const pieces = [Array.from({ length: 40 }, (_, i) => Math.sin(i) * 1e3), [1, 2, 3], Array.from({ length: 30 }, (_, i) => 10 ** (i * 13 - 200)), [-0, 5]];
    const scratch = new WindowAccumulator();
    for (const first of pieces) {
      for (const v of first) scratch.add(v, v);
      scratch.clear();
      expect(scratch.serialize()).toEqual(new WindowAccumulator().serialize());
      for (const next of pieces) {
        const fresh = new WindowAccumulator();
        const other = new WindowAccumulator(); // may take the cleared sketch
        const part = new WindowAccumulator();
        for (const v of next) part.add(v, v);
        scratch.merge(part);
        fresh.merge(part);
        for (const v of next) other.add(v, v);
        expect(scratch.serialize()).toEqual(fresh.serialize());
        expect(scratch.result()).toEqual(fresh.result());
        const reference = new WindowAccumulator();
        for (const v of next) reference.add(v, v);
        expect(other.serialize()).toEqual(reference.serialize());
        scratch.clear();
      }
    }
  });

  it('release() hands its sketch on: accumulators that take released sketches end as new ones would', () => {
    const values = Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? 1 : -1) * 10 ** ((i % 40) - 20));
    const released = Array.from({ length: 8 }, () => new WindowAccumulator());
    for (const acc of released) for (const v of values) acc.add(v, v); // each has a sketch, over both stores
    const before = released[0]!.serialize();
    for (const acc of released) acc.release();
    for (let k = 0; k < 10; k++) {
      const reused = new WindowAccumulator();
      const reference = new WindowAccumulator();
      for (const v of values.slice(k)) {
        reused.add(v * 3, v * 3);
        reference.add(v * 3, v * 3);
      }
      expect(reused.serialize()).toEqual(reference.serialize());
    }
    expect(new WindowAccumulator().serialize()).not.toEqual(before);
  });
});
