import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../core/index.js';
import type { ProcessorConfig } from './config.js';
import { createProcessorMetrics } from './metrics.js';
import { createNodeSink } from './node-sink.js';
import { influxConfigSchema } from './sink/index.js';

describe('createNodeSink', () => {
  it('counts every point handed to the sink, good or not, by the time anything else runs', async () => {
    const metrics = createProcessorMetrics(new Registry());
    // Nothing is flushed: the sink is not started and no flush() is called.
    const config = { influx: influxConfigSchema.parse({ url: 'http://127.0.0.1:1' }) } as ProcessorConfig;
    const out = createNodeSink(config, metrics, createLogger('node-sink-test', 'silent'));
    for (let i = 0; i < 3; i++) out.emit({ measurement: 'm', tags: { device: `d${i}` }, fields: { v: i }, timeMs: 1000 });
    out.emit({ measurement: 'm', tags: {}, fields: { v: Number.NaN }, timeMs: 1000 });
    await Promise.resolve();
    expect((await metrics.points.get()).values[0]?.value).toBe(4);
    expect((await metrics.badPoints.get()).values[0]?.value).toBe(1);
    expect(out.sink.size).toBe(3);
    // A later run of emits is counted on top.
    out.emit({ measurement: 'm', tags: { device: 'd9' }, fields: { v: 9 }, timeMs: 1000 });
    await Promise.resolve();
    expect((await metrics.points.get()).values[0]?.value).toBe(5);
    out.writer.close();
  });

  it('is full (its tasks stop reading) at influx.maxBufferedPoints, not before', () => {
    const metrics = createProcessorMetrics(new Registry());
    const config = { influx: influxConfigSchema.parse({ url: 'http://127.0.0.1:1', batchSize: 2, maxBufferedPoints: 25 }) } as ProcessorConfig;
    const out = createNodeSink(config, metrics, createLogger('node-sink-test', 'silent'));
    for (let i = 0; i < 24; i++) out.emit({ measurement: 'm', tags: { device: `d${i}` }, fields: { v: i }, timeMs: 1000 });
    expect(out.sink.saturated).toBe(false); // 24: past 10 × batchSize (20), the bound before it was a setting
    out.emit({ measurement: 'm', tags: { device: 'd24' }, fields: { v: 24 }, timeMs: 1000 });
    expect(out.sink.saturated).toBe(true);
    out.writer.close();
  });
});
