import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CountedHistogram } from './counted-histogram.js';

const BUCKETS = [0.01, 0.1, 1];

describe('CountedHistogram', () => {
  it('exports the same text as prom-client\'s Histogram given one observe per event', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const counted = new CountedHistogram({ name: 'x_seconds', help: 'h', buckets: BUCKETS, registers: [ours] });
    const reference = new Histogram({ name: 'x_seconds', help: 'h', buckets: BUCKETS, registers: [theirs] });
    counted.observe(0.005, 3);
    counted.observe(0.5, 2);
    counted.observe(7); // past every bound: +Inf only
    counted.observe(0.05, 0); // no events: nothing
    for (const v of [0.005, 0.005, 0.005, 0.5, 0.5, 7]) reference.observe(v);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('x_seconds_bucket{le="0.01"} 3\n');
  });

  it('weighs a batch by its events: one slow batch of many outweighs many quick ones of one', async () => {
    const registry = new Registry();
    const h = new CountedHistogram({ name: 'p_seconds', help: 'h', buckets: BUCKETS, registers: [registry] });
    for (let i = 0; i < 99; i++) h.observe(0.005, 1);
    h.observe(0.5, 500);
    const json = await registry.getMetricsAsJSON();
    const bucket = (le: number | string) => json[0]!.values.find((v) => v.labels.le === le)!.value;
    expect(bucket(0.01)).toBe(99);
    expect(bucket(1)).toBe(599);
    expect(json[0]!.values.find((v) => (v as { metricName?: string }).metricName === 'p_seconds_count')!.value).toBe(599);
    h.reset();
    expect((await registry.metrics())).toContain('p_seconds_count 0\n');
  });
});
