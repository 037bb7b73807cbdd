import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SessionWindows, SlidingWindows, TumblingWindows, windowStart, type TimeWindow } from './assigners.js';

describe('TumblingWindows', () => {
  const w = new TumblingWindows(10_000);

  it('puts exact boundaries in the window they start (half-open)', () => {
    expect(w.assign(0)).toEqual({ start: 0, end: 10_000 });
    expect(w.assign(9_999)).toEqual({ start: 0, end: 10_000 });
    expect(w.assign(10_000)).toEqual({ start: 10_000, end: 20_000 });
    expect(w.assign(1_700_000_000_000)).toEqual({ start: 1_700_000_000_000, end: 1_700_000_010_000 });
    expect(w.assign(1_700_000_009_999).start).toBe(1_700_000_000_000);
  });

  it('aligns negative times to the epoch too', () => {
    expect(w.assign(-1)).toEqual({ start: -10_000, end: 0 });
    expect(w.assign(-10_000)).toEqual({ start: -10_000, end: 0 });
    expect(w.assign(-10_001)).toEqual({ start: -20_000, end: -10_000 });
    expect(Object.is(windowStart(-10_000, 10_000), -10_000)).toBe(true);
  });

  it('is exact at the ends of the Date range and of safe integers', () => {
    expect(w.assign(8.64e15)).toEqual({ start: 8.64e15, end: 8.64e15 + 10_000 });
    expect(w.assign(-8.64e15 + 1)).toEqual({ start: -8.64e15, end: -8.64e15 + 10_000 });
    const t = Number.MAX_SAFE_INTEGER - 10_000;
    const { start, end } = w.assign(t);
    expect(start % 10_000).toBe(0);
    expect(start <= t && t < end).toBe(true);
  });

  it('holds every integer time in exactly [start, start + size)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), fc.integer({ min: 1, max: 86_400_000 }), (t, size) => {
        const s = windowStart(t, size);
        return Number.isSafeInteger(s) && s <= t && t < s + size && s % size === 0; // -0 === 0 too
      }),
    );
  });

  it('refuses a non-positive or fractional size', () => {
    expect(() => new TumblingWindows(0)).toThrow(/size/);
    expect(() => new TumblingWindows(2.5)).toThrow(/size/);
  });
});

describe('SlidingWindows', () => {
  it('gives size/slide windows when slide divides size, latest first', () => {
    const w = new SlidingWindows(10_000, 5_000);
    expect(w.assign(12_000)).toEqual([
      { start: 10_000, end: 20_000 },
      { start: 5_000, end: 15_000 },
    ]);
    // exact boundary: 15 000 leaves [5 000, 15 000) and enters [15 000, 25 000)
    expect(w.assign(15_000).map((x) => x.start)).toEqual([15_000, 10_000]);
    expect(w.assign(14_999).map((x) => x.start)).toEqual([10_000, 5_000]);
    expect(w.assign(-1).map((x) => x.start)).toEqual([-5_000, -10_000]);
  });

  it('gives ceil(size/slide) or one fewer when slide does not divide size', () => {
    const w = new SlidingWindows(10, 4);
    expect(w.maxWindowsPerTimestamp).toBe(3);
    expect(w.assign(9).map((x) => x.start)).toEqual([8, 4, 0]);
    expect(w.assign(7).map((x) => x.start)).toEqual([4, 0]); // [-4, 6) ended before 7
    expect(w.assign(5).map((x) => x.start)).toEqual([4, 0, -4]);
  });

  it('matches a brute-force scan of all windows for any time, size and slide', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e6, max: 1e6 }), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 50 }), (t, a, b) => {
        const size = Math.max(a, b);
        const slide = Math.min(a, b);
        const got = new SlidingWindows(size, slide).assign(t).map((x) => x.start);
        const want: number[] = [];
        for (let s = Math.floor((t + size) / slide) * slide; s >= t - size - slide; s -= slide) if (s <= t && t < s + size) want.push(s);
        expect(got).toEqual(want);
        expect(got.length).toBeGreaterThanOrEqual(Math.floor(size / slide));
        expect(got.length).toBeLessThanOrEqual(Math.ceil(size / slide));
      }),
    );
  });

  it('refuses slide > size', () => {
    expect(() => new SlidingWindows(5, 10)).toThrow(/slide/);
  });
});

describe('SessionWindows', () => {
  /** Adds readings in the given order to one key's sessions; returns their bounds. */
  function sessions(gap: number, times: number[]): TimeWindow[] {
    const sw = new SessionWindows(gap);
    const list: (TimeWindow & { n: number })[] = [];
    for (const t of times) {
      sw.find(list, t);
      const w = sw.merge(list, (start, end) => ({ start, end, n: 0 }), (into, gone) => (into.n += gone.n));
      w.n++;
    }
    expect(list.reduce((a, w) => a + w.n, 0)).toBe(times.length);
    return list.map(({ start, end }) => ({ start, end }));
  }

  it('keeps readings at most gap apart in one session; end = last + gap + 1 (exclusive)', () => {
    expect(sessions(10, [0, 10, 20])).toEqual([{ start: 0, end: 31 }]);
    expect(sessions(10, [0, 11])).toEqual([
      { start: 0, end: 11 },
      { start: 11, end: 22 },
    ]);
    expect(new SessionWindows(10).windowOf(5)).toEqual({ start: 5, end: 16 });
  });

  it('extends backwards for an earlier reading within gap', () => {
    expect(sessions(10, [100, 90])).toEqual([{ start: 90, end: 111 }]);
    expect(sessions(10, [100, 89])).toEqual([
      { start: 89, end: 100 },
      { start: 100, end: 111 },
    ]);
  });

  it('merges two sessions when a late reading bridges them', () => {
    expect(sessions(10, [0, 30])).toHaveLength(2);
    expect(sessions(10, [0, 30, 20])).toEqual([
      { start: 0, end: 11 },
      { start: 20, end: 41 },
    ]); // 20 is within 10 of 30 but not of 0: no bridge
    expect(sessions(10, [0, 20, 10])).toEqual([{ start: 0, end: 31 }]); // 10 bridges 0 and 20
    expect(sessions(5, [0, 20, 40, 10, 30, 15, 35, 5, 25])).toEqual([{ start: 0, end: 46 }]);
  });

  it('handles negative times and the same timestamp twice', () => {
    expect(sessions(1_000, [-5_000, -4_000, -4_000])).toEqual([{ start: -5_000, end: -2_999 }]);
  });

  it('matches the batch definition (sort, split where the silence exceeds gap) for any arrival order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1_000, max: 1_000 }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 100 }), (times, gap) => {
        const sorted = [...times].sort((a, b) => a - b);
        const want: TimeWindow[] = [];
        for (const t of sorted) {
          const last = want[want.length - 1];
          if (last !== undefined && t - (last.end - gap - 1) <= gap) last.end = t + gap + 1;
          else want.push({ start: t, end: t + gap + 1 });
        }
        expect(sessions(gap, times)).toEqual(want);
      }),
    );
  });
});
