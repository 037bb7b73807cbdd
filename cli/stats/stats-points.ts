import type { MetricsJson, SinkPoint } from '../../processors/index.js';

/** Cumulative bucket counts of a histogram at the previous report, to take the interval's share. */
export type HistogramMemory = Map<string, { buckets: number[]; count: number; sum: number }>;

type Component = 'gateway' | 'processor' | 'cluster' | 'log' | 'process';
const COMPONENTS: readonly Component[] = ['gateway', 'processor', 'cluster', 'log', 'process'];

/** Metrics written as fields of `sluice_stats`: name on /metrics → [component, field]. Counters stay cumulative (Grafana takes non_negative_derivative). */
const SCALARS: Record<string, [Component, string]> = {
  sluice_gateway_connections: ['gateway', 'connections'],
  sluice_gateway_connections_refused_total: ['gateway', 'connections_refused'],
  sluice_gateway_connections_closed_total: ['gateway', 'connections_closed'],
  sluice_gateway_publishes_refused_total: ['gateway', 'publishes_refused'],
  sluice_gateway_subscriptions_refused_total: ['gateway', 'subscriptions_refused'],
  sluice_gateway_messages_total: ['gateway', 'messages'],
  sluice_gateway_readings_total: ['gateway', 'readings'],
  sluice_gateway_rejected_total: ['gateway', 'rejected'],
  sluice_gateway_rate_limited_total: ['gateway', 'rate_limited'],
  sluice_gateway_inflight_bytes: ['gateway', 'inflight_bytes'],
  sluice_gateway_held_publishes: ['gateway', 'held_publishes'],
  sluice_processor_messages_total: ['processor', 'messages'],
  sluice_processor_duplicates_total: ['processor', 'duplicates'],
  sluice_processor_seq_restarts_total: ['processor', 'seq_restarts'],
  sluice_processor_frame_copies_skipped_total: ['processor', 'frame_copies_skipped'],
  sluice_processor_late_readings_total: ['processor', 'late_readings'],
  sluice_processor_points_total: ['processor', 'points'],
  sluice_processor_bad_points_total: ['processor', 'bad_points'],
  sluice_processor_sink_retries_total: ['processor', 'sink_retries'],
  sluice_processor_superseded_points_deleted_total: ['processor', 'superseded_deleted'],
  sluice_processor_superseded_delete_errors_total: ['processor', 'delete_errors'],
  sluice_processor_checkpoint_bytes: ['processor', 'checkpoint_bytes'],
  sluice_processor_checkpoint_fallbacks_total: ['processor', 'checkpoint_fallbacks'],
  sluice_processor_lag_records: ['processor', 'lag_records'],
  sluice_processor_replayed_records_total: ['processor', 'replayed_records'],
  sluice_processor_points_discarded_total: ['processor', 'points_discarded'],
  sluice_processor_sink_gate_waits_total: ['processor', 'sink_gate_waits'],
  sluice_cluster_members: ['cluster', 'members'],
  sluice_cluster_partitions_owned: ['cluster', 'partitions_owned'],
  sluice_cluster_rebalances_total: ['cluster', 'rebalances'],
  sluice_cluster_leases_lost_total: ['cluster', 'leases_lost'],
  sluice_cluster_partitions_taken_over_total: ['cluster', 'partitions_taken_over'],
  sluice_log_frames_published_total: ['log', 'frames_published'],
  sluice_log_publish_retries_total: ['log', 'publish_retries'],
  sluice_log_publish_duplicates_total: ['log', 'publish_duplicates'],
  sluice_log_frames_stored_twice_total: ['log', 'frames_stored_twice'],
  sluice_log_publish_longest_seconds: ['log', 'publish_longest_seconds'],
  sluice_process_cpu_seconds_total: ['process', 'cpu_seconds'],
  sluice_process_resident_memory_bytes: ['process', 'rss_bytes'],
  sluice_nodejs_heap_size_used_bytes: ['process', 'heap_used_bytes'],
};

/** Histograms written as the interval's p50, p99 (ms) and count: [component, field prefix]. */
const HISTOGRAMS: Record<string, [Component, string]> = {
  sluice_gateway_puback_seconds: ['gateway', 'puback'],
  sluice_gateway_log_append_seconds: ['gateway', 'log_append'],
  sluice_gateway_decode_seconds: ['gateway', 'decode'],
  sluice_processor_checkpoint_seconds: ['processor', 'checkpoint'],
  sluice_processor_sink_write_seconds: ['processor', 'sink_write'],
  sluice_processor_restore_seconds: ['processor', 'restore'],
  sluice_cluster_handoff_seconds: ['cluster', 'handoff'],
};

/** Per-partition gauges: one point per partition (tag `partition`) and component: [component, field]. */
const PER_PARTITION: Record<string, [Component, string]> = {
  sluice_processor_lag_records: ['processor', 'lag_records'],
  sluice_processor_watermark_delay_seconds: ['processor', 'watermark_delay_seconds'],
  sluice_cluster_lease_age_seconds: ['cluster', 'lease_age_seconds'],
  sluice_cluster_partition_owned: ['cluster', 'partition_owned'],
};

/** Per-reason counters: one point per reason (tag `reason`). */
const PER_REASON: Record<string, string> = { sluice_gateway_rejected_total: 'rejected' };

/**
 * The `sluice_stats` points for one report: per component (tags `component`, `node`) the
 * figures /metrics shows; per partition the lag and watermark delay (processor), the lease
 * age and whether this node owns it (cluster); per reject reason its
 * count; histograms as the interval's p50/p99 in ms (estimated within the bucket, as
 * Prometheus' histogram_quantile does) and count. Components this process does not run
 * are left out.
 */
export function statsPoints(metrics: MetricsJson, memory: HistogramMemory, node: string, timeMs: number): SinkPoint[] {
  const fields: Record<Component, Record<string, number>> = { gateway: {}, processor: {}, cluster: {}, log: {}, process: {} };
  const points: SinkPoint[] = [];
  for (const metric of metrics) {
    const scalar = SCALARS[metric.name];
    if (scalar) fields[scalar[0]][scalar[1]] = metric.values.reduce((sum, v) => sum + v.value, 0);
    const perPartition = PER_PARTITION[metric.name];
    if (perPartition) {
      const [component, field] = perPartition;
      for (const v of metric.values) {
        const partition = v.labels.partition;
        if (partition !== undefined && Number.isFinite(v.value)) points.push({ measurement: 'sluice_stats', tags: { component, node, partition: String(partition) }, fields: { [field]: v.value }, timeMs });
      }
    }
    const reasonField = PER_REASON[metric.name];
    if (reasonField) {
      for (const v of metric.values) {
        if (v.labels.reason !== undefined) points.push({ measurement: 'sluice_stats', tags: { component: 'gateway', node, reason: String(v.labels.reason) }, fields: { [reasonField]: v.value }, timeMs });
      }
    }
    const histogram = HISTOGRAMS[metric.name];
    if (histogram) Object.assign(fields[histogram[0]], intervalQuantiles(metric, memory, histogram[1]));
  }
  for (const component of COMPONENTS) {
    const f = fields[component];
    if (Object.keys(f).length > 0) points.push({ measurement: 'sluice_stats', tags: { component, node }, fields: f, timeMs });
  }
  // Per-partition points merge into one line per partition (several gauges).
  return mergeSameSeries(points);
}

/** The histogram's share since the last report: p50 and p99 in ms, and the observation count. */
function intervalQuantiles(metric: MetricsJson[number], memory: HistogramMemory, prefix: string): Record<string, number> {
  const bounds: number[] = [];
  const cumulative: number[] = [];
  let count = 0;
  let sum = 0;
  for (const v of metric.values) {
    const name = (v as { metricName?: string }).metricName ?? '';
    if (name.endsWith('_bucket')) {
      bounds.push(v.labels.le === '+Inf' ? Infinity : Number(v.labels.le));
      cumulative.push(v.value);
    } else if (name.endsWith('_count')) count = v.value;
    else if (name.endsWith('_sum')) sum = v.value;
  }
  const before = memory.get(metric.name);
  memory.set(metric.name, { buckets: cumulative, count, sum });
  const delta = cumulative.map((c, i) => c - (before?.buckets[i] ?? 0));
  const n = count - (before?.count ?? 0);
  const out: Record<string, number> = { [`${prefix}_count`]: n };
  if (n <= 0) return out;
  out[`${prefix}_mean_ms`] = ((sum - (before?.sum ?? 0)) / n) * 1000;
  for (const [q, name] of [[0.5, 'p50'], [0.99, 'p99']] as const) {
    const rank = q * n;
    let i = delta.findIndex((c) => c >= rank);
    if (i < 0) i = delta.length - 1;
    const upper = bounds[i]!;
    const lower = i === 0 ? 0 : bounds[i - 1]!;
    const below = i === 0 ? 0 : delta[i - 1]!;
    const inBucket = delta[i]! - below;
    // Beyond the last finite bucket the quantile is only known to exceed it.
    const value = upper === Infinity ? lower : lower + (upper - lower) * (inBucket > 0 ? (rank - below) / inBucket : 1);
    out[`${prefix}_${name}_ms`] = value * 1000;
  }
  return out;
}

function mergeSameSeries(points: SinkPoint[]): SinkPoint[] {
  const bySeries = new Map<string, SinkPoint>();
  for (const p of points) {
    const key = JSON.stringify(p.tags);
    const seen = bySeries.get(key);
    if (seen) Object.assign(seen.fields, p.fields);
    else bySeries.set(key, { ...p, fields: { ...p.fields } });
  }
  return [...bySeries.values()];
}
