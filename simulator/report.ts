/**
 * What `sluice simulate` writes with --report FILE and `sluice verify --report FILE`
 * reads: the run's figures and the window aggregates the run should have produced.
 * Versioned: verify refuses a report of another version with a clear error.
 */
export const REPORT_VERSION = 1;

/** One expected window point (the InfluxDB schema: measurement = window name, time = window start). */
export interface ExpectedPoint {
  measurement: string;
  /** Tag `device`. */
  device: string;
  /** Tag `metric`. */
  metric: string;
  /** Further tags (registry tags of the device, reading tags); absent when none. */
  tags?: Record<string, string>;
  /** Window start, ms since the epoch. */
  time: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  first: number;
  last: number;
  stddev: number;
  /**
   * Quantiles as the ranks' exact values: [value at floor(q·(n−1)), value at ceil(q·(n−1))]
   * of the sorted readings; the stored value may be either, within the sketch's relative accuracy.
   */
  p50: [number, number];
  p90: [number, number];
  p99: [number, number];
}

/** The expected result of a run, for `verify`. */
export interface ExpectedResult {
  /** The windows the aggregates were computed for (from the sluice config the simulator was given). */
  windows: { name: string; type: 'tumbling' | 'sliding' | 'session'; size?: number; slide?: number; gap?: number }[];
  /** The quantile sketch's relative accuracy (processors' DDSketch: 0.01). */
  quantileRelativeAccuracy: number;
  /** Every simulated device id starts with it: verify looks for extra points among these devices only. */
  devicePrefix: string;
  /** Earliest and latest event time of any accepted reading, ms. */
  eventTimeRange: { from: number; to: number };
  /** Accepted readings (valid and de-duplicated), which the points aggregate. */
  readings: number;
  points: ExpectedPoint[];
  /** With the config's time settings: the readings the processors write to late_readings (absent in a report that did not model lateness). */
  late?: ExpectedLateReading[];
  /** Late readings counted once per window definition that refused them (the processors' late_readings counter). */
  lateReadings?: number;
  /**
   * Buffered readings counted as within time.maxBackfill whose message reached the gateway
   * later than the simulator allowed for (FleetPlan.backlogReceipt): they may have gone to
   * late_readings instead. verify cannot call such a run exact.
   */
  undecided?: number;
  /**
   * Devices outside devicePrefix whose points are expected (the --anomalies episodes):
   * verify looks for their points, and alerts, by exact id.
   */
  devices?: string[];
  /** With --anomalies: the alert transitions the run should produce (measurement alerts), sorted by time, rule, device. */
  alerts?: ExpectedAlert[];
  /** The rules the alerts were computed for: a stored alert of another rule is extra. */
  alertRules?: { name: string; kind: 'threshold' | 'rate' | 'absence' | 'sequence' }[];
  /**
   * Absence transitions dated after this (the run's newest reading) are not compared:
   * every device falls silent when the run ends, and those alerts come later.
   */
  alertHorizon?: number;
  /**
   * Earliest event time of the devicePrefix fleet's readings, when the episode devices
   * start earlier (--anomalies): verify looks for the fleet's points from here, so an
   * earlier run's points of the same device ids are not taken for extra ones.
   */
  fleetFrom?: number;
  /**
   * Per absence rule and device, the newest time of the device's first matching run: a
   * silence from before the run (an earlier run's) is resolved there, which verify
   * leaves out rather than count as extra.
   */
  alertOpenings?: { rule: string; device: string; time: number }[];
  /** Silences whose alert depends on timing (within 10 s of the rule's limits): verify cannot call such a run exact. */
  undecidedAlerts?: number;
}

/** One expected point of measurement alerts: a rule's transition for a device. */
export interface ExpectedAlert {
  rule: string;
  kind: 'threshold' | 'rate' | 'absence' | 'sequence';
  device: string;
  state: 'firing' | 'resolved';
  /** Event time of the transition, ms (window rules: the end of the window that decided it). */
  time: number;
  severity: string;
  /** Registry and reading tags the point carries beside rule, device, severity, state; absent when none. */
  tags?: Record<string, string>;
  /** The aggregate (threshold, sequence), change per second (rate) or seconds of silence (absence). */
  value: number;
  threshold: number;
  /** How close the stored value must be: |e − s| ≤ relative × max(|e|, |s|, scale); relative 0 = exact. */
  tolerance: { relative: number; scale: number };
}

/** An expected point of late_readings: tags device, metric, window (and the series' others), field value. */
export interface ExpectedLateReading {
  window: string;
  device: string;
  metric: string;
  tags?: Record<string, string>;
  time: number;
  /** The values of the late readings of this series and window at this time: InfluxDB keeps one of them (the last written). */
  values: number[];
}

/** Everything a run measured and what it expects InfluxDB to hold. */
export interface SimulationReport {
  version: typeof REPORT_VERSION;
  seed: number;
  /** The options the run used (CLI names, resolved values). */
  options: Record<string, unknown>;
  startedAt: string;
  durationMs: number;
  sent: { messages: number; readings: number; duplicates: number; malformed: number; resent: number; bytes: number };
  acknowledged: number;
  /** Publishes the gateway should refuse (broken payloads, duplicates included), by its reason. */
  rejected: Record<string, number>;
  throughput: { messagesPerSecond: number; readingsPerSecond: number };
  /** Publish → PUBACK (QoS 1), from an HDR histogram. */
  latencyMs: { count: number; p50: number; p90: number; p99: number; max: number };
  connections: { peak: number; reconnects: number; failed: number };
  expected: ExpectedResult;
}
