import type { ExpectedPoint } from '../report.js';
import type { WindowStats } from './exact-stats.js';
import type { Series } from './series.js';

/** Numbers kept per point: time, then the aggregates (a quantile pair is two). */
const WIDTH = 15;
/** Points per chunk of numbers. */
const CHUNK = 4096;

/**
 * Final points, compactly: 15 float64s, the series and the window index per point (about
 * 136 bytes, against ~400 for an ExpectedPoint object), until the report asks for them.
 */
export class PointStore {
  private readonly chunks: Float64Array[] = [];
  private readonly series: Series[] = [];
  private readonly windows: number[] = [];

  constructor(private readonly windowNames: readonly string[]) {}

  get size(): number {
    return this.series.length;
  }

  add(window: number, series: Series, time: number, s: WindowStats): void {
    const i = this.series.length;
    if (i % CHUNK === 0) this.chunks.push(new Float64Array(CHUNK * WIDTH));
    const x = this.chunks[this.chunks.length - 1]!;
    const o = (i % CHUNK) * WIDTH;
    x[o] = time;
    x[o + 1] = s.count;
    x[o + 2] = s.sum;
    x[o + 3] = s.min;
    x[o + 4] = s.max;
    x[o + 5] = s.mean;
    x[o + 6] = s.first;
    x[o + 7] = s.last;
    x[o + 8] = s.stddev;
    x[o + 9] = s.p50[0];
    x[o + 10] = s.p50[1];
    x[o + 11] = s.p90[0];
    x[o + 12] = s.p90[1];
    x[o + 13] = s.p99[0];
    x[o + 14] = s.p99[1];
    this.series.push(series);
    this.windows.push(window);
  }

  /** Every point, ordered by window (as configured), time, device, metric, tags: the same readings give the same report. */
  *sorted(): Generator<ExpectedPoint> {
    const { series, windows } = this;
    const order = Array.from({ length: this.size }, (_, i) => i);
    const time = (i: number): number => this.chunks[Math.floor(i / CHUNK)]![(i % CHUNK) * WIDTH]!;
    const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
    order.sort((a, b) => {
      const sa = series[a]!;
      const sb = series[b]!;
      return windows[a]! - windows[b]! || time(a) - time(b) || cmp(sa.device, sb.device) || cmp(sa.metric, sb.metric) || cmp(sa.tagKey, sb.tagKey);
    });
    for (const i of order) yield this.point(i);
  }

  private point(i: number): ExpectedPoint {
    const s = this.series[i]!;
    const x = this.chunks[Math.floor(i / CHUNK)]!;
    const o = (i % CHUNK) * WIDTH;
    return {
      measurement: this.windowNames[this.windows[i]!]!,
      device: s.device,
      metric: s.metric,
      ...(s.tags === undefined ? {} : { tags: { ...s.tags } }),
      time: x[o]!,
      count: x[o + 1]!,
      sum: x[o + 2]!,
      min: x[o + 3]!,
      max: x[o + 4]!,
      mean: x[o + 5]!,
      first: x[o + 6]!,
      last: x[o + 7]!,
      stddev: x[o + 8]!,
      p50: [x[o + 9]!, x[o + 10]!],
      p90: [x[o + 11]!, x[o + 12]!],
      p99: [x[o + 13]!, x[o + 14]!],
    };
  }
}
