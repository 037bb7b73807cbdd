import type { Metric, Registry } from 'prom-client';

/** One exported sample, in the shape prom-client's registry reads from a metric's get(). */
interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

export interface CountedHistogramOptions {
  name: string;
  help: string;
  /** Upper bounds, ascending; +Inf is added. */
  buckets: readonly number[];
  registers: Registry[];
}

/**
 * A Prometheus histogram (no labels) that takes one value for many events at once:
 * prom-client's Histogram counts one event per observe(), and the gateway times PUBACKs
 * per micro-batch, not per publish (the hot path stays batch-oriented). Observed once per
 * batch, a stall that piles hundreds of publishes into one batch counted as one event
 * among hundreds of quick small batches, so its p99 hid the tail the devices saw.
 */
export class CountedHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  private readonly bounds: readonly number[];
  private readonly counts: Float64Array;
  private total = 0;
  private sum = 0;

  constructor(o: CountedHistogramOptions) {
    this.name = o.name;
    this.help = o.help;
    this.bounds = [...o.buckets].sort((a, b) => a - b);
    this.counts = new Float64Array(this.bounds.length);
    // prom-client's registry reads any metric through get() (and reset()); its types name only its own classes.
    for (const registry of o.registers) registry.registerMetric(this as unknown as Metric);
  }

  /** Counts `events` events of `value` each (none when events is 0). */
  observe(value: number, events = 1): void {
    if (!(events > 0) || !Number.isFinite(value)) return;
    this.total += events;
    this.sum += value * events;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.counts[i]! += events;
        return;
      }
    }
  }

  /** The metric as prom-client exports it: cumulative buckets, +Inf, sum and count. */
  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Sample[] }> {
    const values: Sample[] = [];
    let cumulative = 0;
    this.bounds.forEach((le, i) => {
      cumulative += this.counts[i]!;
      values.push({ metricName: `${this.name}_bucket`, labels: { le }, value: cumulative });
    });
    values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf' }, value: this.total });
    values.push({ metricName: `${this.name}_sum`, labels: {}, value: this.sum });
    values.push({ metricName: `${this.name}_count`, labels: {}, value: this.total });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Starts counting from zero. */
  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.sum = 0;
  }
}
