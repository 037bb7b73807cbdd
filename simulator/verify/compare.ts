import type { ExpectedPoint } from '../report.js';
import type { FieldDiff } from './types.js';

/** Sums, means, min/max, first/last and stddev agree within this relative difference. */
export const RELATIVE_TOLERANCE = 1e-9;

const FLOAT_FIELDS = ['sum', 'min', 'max', 'mean', 'first', 'last', 'stddev'] as const;
const QUANTILE_FIELDS = ['p50', 'p90', 'p99'] as const;
/** sum, mean and stddev are computed from the values, whose rounding is on the scale of the values themselves. */
const SCALED = new Set<string>(['sum', 'mean', 'stddev']);

/**
 * |a − b| ≤ 1e-9 · max(|a|, |b|, scale). `scale` is the floor for results near 0: a sum
 * that cancels to ~0 (or a tiny stddev of values far from 0) still carries rounding on
 * the scale of the values summed, which is what scale is (the largest |value|).
 */
export function closeEnough(expected: number, stored: number, scale = 0): boolean {
  return Math.abs(expected - stored) <= RELATIVE_TOLERANCE * Math.max(Math.abs(expected), Math.abs(stored), scale);
}

/**
 * Whether a stored quantile is within the sketch's relative accuracy α of one of the two
 * rank values [lo, hi] (lo ≤ hi): inside [lo − α|lo|, hi + α|hi|], which is right for
 * negative values too, widened by a rounding epsilon.
 */
export function quantileWithin(lo: number, hi: number, stored: number, alpha: number): boolean {
  const eps = 1e-12 * Math.max(Math.abs(lo), Math.abs(hi)) + 1e-300;
  return stored >= lo - alpha * Math.abs(lo) - eps && stored <= hi + alpha * Math.abs(hi) + eps;
}

/** The fields of a stored point that differ from the expected point (empty: it matches). */
export function compareFields(expected: ExpectedPoint, stored: Record<string, unknown>, alpha: number): FieldDiff[] {
  const diffs: FieldDiff[] = [];
  const count = stored.count;
  if (count !== expected.count) diffs.push({ field: 'count', expected: expected.count, stored: asNumber(count) });
  const scale = Math.max(Math.abs(expected.min), Math.abs(expected.max));
  for (const field of FLOAT_FIELDS) {
    const v = asNumber(stored[field]);
    if (v === null || !closeEnough(expected[field], v, SCALED.has(field) ? scale : 0)) diffs.push({ field, expected: expected[field], stored: v });
  }
  for (const field of QUANTILE_FIELDS) {
    const [lo, hi] = expected[field];
    const v = asNumber(stored[field]);
    if (v === null || !quantileWithin(lo, hi, v, alpha)) diffs.push({ field, expected: [lo, hi], stored: v });
  }
  return diffs;
}

function asNumber(v: unknown): number | null {
  return typeof v === 'number' ? v : null;
}
