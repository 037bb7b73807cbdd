import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The processors' Prometheus metrics. */
export function createProcessorMetrics(registry: Registry) {
  const registers = [registry];
  return {
    lag: new Gauge({ name: 'sluice_processor_lag_records', help: 'Log records not yet processed, per partition', labelNames: ['partition'] as const, registers }),
    watermarkDelay: new Gauge({ name: 'sluice_processor_watermark_delay_seconds', help: 'Wall clock minus the partition watermark', labelNames: ['partition'] as const, registers }),
    messages: new Counter({ name: 'sluice_processor_messages_total', help: 'Device messages read from the log', registers }),
    duplicates: new Counter({ name: 'sluice_processor_duplicates_total', help: 'Messages dropped as duplicates (same device and seq)', registers }),
    seqRestarts: new Counter({
      name: 'sluice_processor_seq_restarts_total',
      help: 'Messages under a seq the device had used, counted as new data (other readings than the one kept under that seq, or all newer than any it sent): a device that restarted its seqs',
      registers,
    }),
    frameCopiesSkipped: new Counter({
      name: 'sluice_processor_frame_copies_skipped_total',
      help: 'Log records skipped as the second copy of a JetStream frame (a publish retried after the duplicate window) that the reader did not know: read after a restore between the copies',
      registers,
    }),
    late: new Counter({ name: 'sluice_processor_late_readings_total', help: 'Readings beyond allowed lateness, written to late_readings', registers }),
    deviceStatus: new Counter({ name: 'sluice_processor_device_status_total', help: 'Device status changes (Sparkplug B births and deaths) written to device_status', registers }),
    alerts: new Counter({ name: 'sluice_processor_alerts_total', help: 'Alert transitions emitted (a replay after a crash counts its transitions again)', labelNames: ['rule', 'severity', 'state'] as const, registers }),
    alertWebhook: new Counter({ name: 'sluice_processor_alert_webhook_total', help: 'Alert webhook requests by outcome: sent, retried, refused (a 4xx, not retried), dropped (queue full)', labelNames: ['outcome'] as const, registers }),
    rulesReloads: new Counter({ name: 'sluice_processor_rules_reloads_total', help: 'Reloads of rules.file by result: ok (applied) or invalid (the rules before stay); counted per processor thread', labelNames: ['result'] as const, registers }),
    points: new Counter({ name: 'sluice_processor_points_total', help: 'Points handed to the sink', registers }),
    pointsDiscarded: new Counter({ name: 'sluice_processor_points_discarded_total', help: 'Points and deletes dropped unwritten because their partition\'s lease passed to another processor', registers }),
    sinkGateWaits: new Counter({ name: 'sluice_processor_sink_gate_waits_total', help: 'Flushes held because a partition lease was not fresh (self-fencing)', registers }),
    badPoints: new Counter({ name: 'sluice_processor_bad_points_total', help: 'Points InfluxDB refused (400) and were dead-lettered', registers }),
    sinkRetries: new Counter({ name: 'sluice_processor_sink_retries_total', help: 'Retried InfluxDB writes', registers }),
    sinkRefused: new Gauge({ name: 'sluice_processor_sink_refused', help: 'Processor threads whose writes InfluxDB refuses (credentials, permission, missing database); they retry until it takes them', registers }),
    supersededDeleted: new Counter({
      name: 'sluice_processor_superseded_points_deleted_total',
      help: 'Stale session-window points deleted from InfluxDB after a late reading merged or moved their session',
      registers,
    }),
    supersededDeleteErrors: new Counter({
      name: 'sluice_processor_superseded_delete_errors_total',
      help: 'Deletes of stale session-window points that InfluxDB refused or that cannot be written; the stale point stays',
      registers,
    }),
    checkpointSeconds: new Histogram({
      name: 'sluice_processor_checkpoint_seconds',
      help: 'Checkpoint duration: sink flush plus snapshot writes, all owned partitions',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    sinkWriteSeconds: new Histogram({
      name: 'sluice_processor_sink_write_seconds',
      help: 'InfluxDB request latency (writes and deletes InfluxDB answered; retried failures are counted in sink_retries)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    // When the node last sent InfluxDB anything: a stall shows as an old time even while the
    // buffers fill, and fencing tests can tell a request sent before a SIGSTOP from one after.
    sinkLastRequestStart: new Gauge({
      name: 'sluice_processor_sink_last_request_start_timestamp_seconds',
      help: 'Unix time the last InfluxDB write or delete request (a retry included) was sent, latest over the processor threads',
      aggregator: 'max',
      registers,
    }),
    restoreSeconds: new Histogram({
      name: 'sluice_processor_restore_seconds',
      help: 'Taking one partition on: checkpoint claim (distributed mode), restore from the checkpoint chain, and the first lag reading',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    replayedRecords: new Counter({
      name: 'sluice_processor_replayed_records_total',
      help: "Records a partition read after its restore up to the log's end as it was then: the catch-up a restart or handoff costs",
      registers,
    }),
    checkpointBytes: new Gauge({ name: 'sluice_processor_checkpoint_bytes', help: 'Size of the last checkpoint, all owned partitions', registers }),
    checkpointFallbacks: new Counter({ name: 'sluice_processor_checkpoint_fallbacks_total', help: 'Corrupt checkpoints skipped on restore', registers }),
  };
}

export type ProcessorMetrics = ReturnType<typeof createProcessorMetrics>;
