import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createClusterMetrics } from '../../cluster/cluster-metrics.js';
import { createGatewayMetrics } from '../../gateway/metrics.js';
import { registerJetStreamLogMetrics } from '../../log/index.js';
import { createProcessorMetrics } from '../../processors/metrics.js';
import { registerProcessMetrics } from '../process-metrics.js';
import { statsPoints, type HistogramMemory } from './stats-points.js';

function registries() {
  const registry = new Registry();
  return { registry, gateway: createGatewayMetrics(registry), processor: createProcessorMetrics(registry) };
}

const byTags = (points: ReturnType<typeof statsPoints>, tags: Record<string, string>) => points.find((p) => JSON.stringify(p.tags) === JSON.stringify(tags))?.fields;

describe('statsPoints', () => {
  it('writes each component\'s figures, one point per partition and per reject reason', async () => {
    const { registry, gateway, processor } = registries();
    gateway.messages.inc({ kind: 'protobuf' }, 7);
    gateway.messages.inc({ kind: 'json' }, 3);
    gateway.readings.inc(42);
    gateway.rejects.inc({ reason: 'decode_error' }, 2);
    gateway.rejects.inc({ reason: 'timestamp_skew' }, 1);
    gateway.connections.set(5);
    processor.messages.inc(9);
    processor.lag.set({ partition: '3' }, 11);
    processor.lag.set({ partition: '4' }, 1);
    processor.watermarkDelay.set({ partition: '3' }, 2.5);
    const points = statsPoints(await registry.getMetricsAsJSON(), new Map(), 'n1', 1000);
    expect(points.every((p) => p.measurement === 'sluice_stats' && p.timeMs === 1000)).toBe(true);
    expect(byTags(points, { component: 'gateway', node: 'n1' })).toMatchObject({ messages: 10, readings: 42, rejected: 3, connections: 5 });
    expect(byTags(points, { component: 'gateway', node: 'n1', reason: 'decode_error' })).toEqual({ rejected: 2 });
    expect(byTags(points, { component: 'gateway', node: 'n1', reason: 'timestamp_skew' })).toEqual({ rejected: 1 });
    expect(byTags(points, { component: 'processor', node: 'n1' })).toMatchObject({ messages: 9, lag_records: 12 });
    expect(byTags(points, { component: 'processor', node: 'n1', partition: '3' })).toEqual({ lag_records: 11, watermark_delay_seconds: 2.5 });
    expect(byTags(points, { component: 'processor', node: 'n1', partition: '4' })).toEqual({ lag_records: 1 });
  });

  it('writes the three refusal counters apart, and the process figures under their prom-client names', async () => {
    const { registry, gateway } = registries();
    registerProcessMetrics(registry);
    gateway.connectionsRefused.inc({ reason: 'auth_refused' }, 2);
    gateway.connectionsClosed.inc({ reason: 'packet_too_large' });
    gateway.publishesRefused.inc({ reason: 'acl_publish' }, 3);
    gateway.subscriptionsRefused.inc({ reason: 'acl_subscribe' }, 4);
    const points = statsPoints(await registry.getMetricsAsJSON(), new Map(), 'n1', 1000);
    expect(byTags(points, { component: 'gateway', node: 'n1' })).toMatchObject({ connections_refused: 2, connections_closed: 1, publishes_refused: 3, subscriptions_refused: 4 });
    expect(byTags(points, { component: 'process', node: 'n1' })).toEqual({ cpu_seconds: expect.any(Number), rss_bytes: expect.any(Number), heap_used_bytes: expect.any(Number) });
  });

  it('writes the JetStream log\'s publish figures as component log', async () => {
    const { registry } = registries();
    registerJetStreamLogMetrics(registry, { stats: { published: 40, retries: 3, duplicates: 1, longestMs: 2500 }, framesStoredTwice: 2 });
    const points = statsPoints(await registry.getMetricsAsJSON(), new Map(), 'n1', 1000);
    expect(byTags(points, { component: 'log', node: 'n1' })).toEqual({ frames_published: 40, publish_retries: 3, publish_duplicates: 1, frames_stored_twice: 2, publish_longest_seconds: 2.5 });
  });

  it('reports a histogram as the interval\'s count, mean, p50 and p99 in ms, interpolated within its bucket', async () => {
    const { registry, gateway } = registries();
    const memory: HistogramMemory = new Map();
    // 100 PUBACKs: 98 in (5, 10] ms, 2 in (50, 100] ms.
    for (let i = 0; i < 98; i++) gateway.pubackSeconds.observe(0.008);
    gateway.pubackSeconds.observe(0.08);
    gateway.pubackSeconds.observe(0.08);
    const first = byTags(statsPoints(await registry.getMetricsAsJSON(), memory, 'n', 1), { component: 'gateway', node: 'n' })!;
    expect(first.puback_count).toBe(100);
    expect(first.puback_mean_ms).toBeCloseTo((98 * 8 + 2 * 80) / 100, 6);
    expect(first.puback_p50_ms).toBeGreaterThan(5);
    expect(first.puback_p50_ms).toBeLessThanOrEqual(10);
    expect(first.puback_p99_ms).toBeGreaterThan(50);
    expect(first.puback_p99_ms).toBeLessThanOrEqual(100);
    // The next report covers only what happened since: one slow PUBACK.
    gateway.pubackSeconds.observe(3);
    const second = byTags(statsPoints(await registry.getMetricsAsJSON(), memory, 'n', 2), { component: 'gateway', node: 'n' })!;
    expect(second.puback_count).toBe(1);
    expect(second.puback_p50_ms).toBeGreaterThan(2500);
    // A quiet interval has a count of 0 and no quantiles.
    const third = byTags(statsPoints(await registry.getMetricsAsJSON(), memory, 'n', 3), { component: 'gateway', node: 'n' })!;
    expect(third.puback_count).toBe(0);
    expect(third.puback_p99_ms).toBeUndefined();
  });

  it('writes the cluster figures as component cluster, lease age and ownership per partition, and the processors\' restore and replay', async () => {
    const { registry, processor } = registries();
    const cluster = createClusterMetrics(registry, {
      leaseAge: () => [[0, 0.5], [1, 2.25]],
      owned: () => [[0, 1], [1, 0]],
    });
    const memory: HistogramMemory = new Map();
    cluster.members.set(2);
    cluster.partitionsOwned.set(1);
    cluster.rebalances.inc(3);
    cluster.leasesLost.inc();
    cluster.handoffSeconds.observe(0.2);
    processor.restoreSeconds.observe(0.04);
    processor.restoreSeconds.observe(0.04);
    processor.replayedRecords.inc(120);
    const points = statsPoints(await registry.getMetricsAsJSON(), memory, 'n1', 1000);
    const node = byTags(points, { component: 'cluster', node: 'n1' })!;
    expect(node).toMatchObject({ members: 2, partitions_owned: 1, rebalances: 3, leases_lost: 1, handoff_count: 1 });
    expect(node.handoff_p50_ms).toBeGreaterThan(100);
    expect(node.handoff_p50_ms).toBeLessThanOrEqual(250);
    expect(byTags(points, { component: 'cluster', node: 'n1', partition: '0' })).toEqual({ lease_age_seconds: 0.5, partition_owned: 1 });
    expect(byTags(points, { component: 'cluster', node: 'n1', partition: '1' })).toEqual({ lease_age_seconds: 2.25, partition_owned: 0 });
    const proc = byTags(points, { component: 'processor', node: 'n1' })!;
    expect(proc).toMatchObject({ replayed_records: 120, restore_count: 2, restore_mean_ms: expect.closeTo(40, 6) });
    expect(proc.restore_p99_ms).toBeGreaterThan(10);
    expect(proc.restore_p99_ms).toBeLessThanOrEqual(50);
    // Partition points of the two components stay apart: the processor's lag is not merged into the cluster's.
    expect(byTags(points, { component: 'processor', node: 'n1', partition: '0' })).toBeUndefined();
  });
});
