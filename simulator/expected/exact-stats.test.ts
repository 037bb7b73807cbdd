/** The plain statistics behind expected points: exactly rounded sums, quantile pairs. */
import { describe, expect, it } from 'vitest';
import { exactSum, quantilePair, windowStats } from './index.js';

describe('exactSum', () => {
  it('rounds the exact sum once, whatever cancels on the way', () => {
    expect(exactSum([1e100, 1, -1e100])).toBe(1);
    expect(exactSum([1e16, 1, 1, -1e16])).toBe(2);
    expect(exactSum(Array.from({ length: 10 }, () => 0.1))).toBe(1);
    expect(exactSum([])).toBe(0);
    expect(exactSum([-0.5, -0.25])).toBe(-0.75);
    // ties round to even across partials: 1 + 2^-53 + 2^-106 is just above the midpoint, so it rounds up
    expect(exactSum([1, 2 ** -53, 2 ** -106])).toBe(1 + 2 ** -52);
    expect(exactSum([1, 2 ** -53])).toBe(1);
  });
});

describe('quantilePair', () => {
  it('takes the values at floor and ceil of q·(n−1)', () => {
    expect(quantilePair([1, 2, 3, 4], 0.5)).toEqual([2, 3]);
    expect(quantilePair([1, 2, 3, 4, 5], 0.5)).toEqual([3, 3]);
    expect(quantilePair([7], 0.99)).toEqual([7, 7]);
  });
});

describe('windowStats', () => {
  it('sorts the values and derives every field from them', () => {
    const s = windowStats(Float64Array.from([3, -1, 2]), 3, 2);
    expect(s).toEqual({ count: 3, sum: 4, min: -1, max: 3, mean: 4 / 3, first: 3, last: 2, stddev: Math.sqrt(((3 - 4 / 3) ** 2 + (-1 - 4 / 3) ** 2 + (2 - 4 / 3) ** 2) / 3), p50: [2, 2], p90: [2, 3], p99: [2, 3] });
    expect(() => windowStats(new Float64Array(0), 0, 0)).toThrow(RangeError);
  });
});
