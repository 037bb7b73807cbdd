/**
 * The window aggregates computed the plain way, from all of a window's values at once:
 * nothing here is shared with processors/ (which aggregates one reading at a time with a
 * compensated sum, Welford's variance and a DDSketch), so a bug in either shows up as a
 * difference.
 */

import type { ExpectedPoint } from '../report.js';

/** The quantiles a point carries, and the fraction each stands for. */
export const QUANTILES = { p50: 0.5, p90: 0.9, p99: 0.99 } as const;

/** The aggregate fields of one expected point. */
export type WindowStats = Omit<ExpectedPoint, 'measurement' | 'device' | 'metric' | 'tags' | 'time'>;

/**
 * An exactly rounded float sum (Shewchuk's algorithm, as Python's math.fsum): the partials
 * together hold the exact sum of everything added, value() rounds it once.
 */
export class ExactSum {
  /**
   * Non-overlapping partials, increasing in magnitude; the first `n` are live. Doubles span
   * 2^-1074 to 2^1023, so at most ~40 non-overlapping partials exist.
   */
  private readonly partials = new Float64Array(48);
  private n = 0;

  add(value: number): void {
    const p = this.partials;
    const n = this.n;
    let x = value;
    let i = 0;
    for (let j = 0; j < n; j++) {
      let y = p[j]!;
      if (Math.abs(x) < Math.abs(y)) {
        const swap = x;
        x = y;
        y = swap;
      }
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) p[i++] = lo;
      x = hi;
    }
    p[i] = x;
    this.n = i + 1;
  }

  /** Back to an empty sum. */
  reset(): void {
    this.n = 0;
  }

  /** The exact sum rounded to the nearest double (ties to even). */
  value(): number {
    const p = this.partials;
    let n = this.n;
    if (n === 0) return 0;
    let hi = p[--n]!;
    let lo = 0;
    while (n > 0) {
      const x = hi;
      const y = p[--n]!;
      hi = x + y;
      lo = y - (hi - x);
      if (lo !== 0) break;
    }
    // Half-even rounding across partials: if the rest pushes the same way, round away.
    if (n > 0 && ((lo < 0 && p[n - 1]! < 0) || (lo > 0 && p[n - 1]! > 0))) {
      const y = lo * 2;
      const x = hi + y;
      if (y === x - hi) hi = x;
    }
    return hi;
  }
}

const SHARED_SUM = new ExactSum();

/** The exactly rounded sum of `values`. */
export function exactSum(values: ArrayLike<number>): number {
  const s = SHARED_SUM;
  s.reset();
  for (let i = 0; i < values.length; i++) s.add(values[i]!);
  return s.value();
}

/**
 * The values at ranks floor(q·(n−1)) and ceil(q·(n−1)) of `sorted` (0-based): the
 * processors' quantile is the first exactly (up to 16 values) or within the sketch's
 * relative accuracy of it; the pair leaves room for either rounding of the rank.
 */
export function quantilePair(sorted: ArrayLike<number>, q: number): [number, number] {
  const rank = q * (sorted.length - 1);
  return [sorted[Math.floor(rank)]!, sorted[Math.ceil(rank)]!];
}

/**
 * The aggregates of a window from its values, which this sorts in place (ascending), and
 * the values at its earliest and latest event time. At least one value.
 * - sum: exactly rounded; mean = sum / count.
 * - stddev: population, two passes: sqrt(Σ(v − mean)² / n).
 */
export function windowStats(values: Float64Array, first: number, last: number): WindowStats {
  const n = values.length;
  if (n === 0) throw new RangeError('windowStats needs at least one value');
  values.sort();
  const sum = exactSum(values);
  const mean = sum / n;
  // The squares are ≥ 0, so nothing cancels: a compensated (Kahan) sum is exact to a few ulps.
  let squares = 0;
  let carry = 0;
  for (let i = 0; i < n; i++) {
    const d = values[i]! - mean;
    const y = d * d - carry;
    const t = squares + y;
    carry = t - squares - y;
    squares = t;
  }
  return {
    count: n,
    sum,
    min: values[0]!,
    max: values[n - 1]!,
    mean,
    first,
    last,
    stddev: Math.sqrt(squares / n),
    p50: quantilePair(values, QUANTILES.p50),
    p90: quantilePair(values, QUANTILES.p90),
    p99: quantilePair(values, QUANTILES.p99),
  };
}
