import type { AlertsSummary } from './verify-alerts.js';
/** What verify reads from InfluxDB and what it reports. */

/** One stored window point as InfluxDB returns it. */
export interface StoredPoint {
  measurement: string;
  /** ms since the epoch. */
  time: number;
  /** Every tag, device and metric included; empty values mean "no such tag". */
  tags: Record<string, string>;
  /** Field values by name; null or absent when the point lacks the field. */
  fields: Record<string, unknown>;
}

/** The stored points to compare: one measurement, devices whose id starts with a prefix, window starts in [from, to]. */
export interface StoredPointQuery {
  measurement: string;
  devicePrefix: string;
  /** devicePrefix is one whole device id (an --anomalies episode device), not a prefix. */
  exact?: boolean;
  from: number;
  to: number;
}

/** Where stored points come from: InfluxDB (influx-source.ts), or a fake in tests. */
export interface StoredPointSource {
  /** Says where the points come from, for the output (e.g. "InfluxDB http://…, database sluice"). */
  readonly description: string;
  /** The matching points, a batch at a time (any order). */
  scan(query: StoredPointQuery): AsyncIterable<StoredPoint[]>;
}

/** A point by its identity: measurement, series, window start. */
export interface PointRef {
  measurement: string;
  device: string;
  metric: string;
  /** Further tags; absent when none. */
  tags?: Record<string, string>;
  /** Window start, ms since the epoch. */
  time: number;
}

/** A field that differs: the expected value (a quantile's [lo, hi] rank values) and the stored one (null: absent). */
export interface FieldDiff {
  field: string;
  expected: number | [number, number];
  stored: number | null;
}

export interface Mismatch extends PointRef {
  diffs: FieldDiff[];
}

/** Counts for one measurement: every expected point is found (stored, maybe mismatched) or missing. */
export interface MeasurementCounts {
  measurement: string;
  expected: number;
  found: number;
  missing: number;
  extra: number;
  mismatched: number;
}

export interface VerifyResult {
  /** True only when nothing is missing, extra or mismatched, and no reading's lateness was left undecided. */
  exact: boolean;
  /** Readings the run could not say were late or not (SimulationReport expected.undecided). */
  undecided: number;
  /** Where the stored points came from. */
  source: string;
  /** Readings the expected points aggregate. */
  readings: number;
  /** The relative accuracy α quantiles were checked with. */
  quantileRelativeAccuracy: number;
  measurements: MeasurementCounts[];
  total: Omit<MeasurementCounts, 'measurement'>;
  /** The first (earliest window) maxListed points of each kind. */
  missing: PointRef[];
  extra: PointRef[];
  mismatched: Mismatch[];
  maxListed: number;
  /** With a report that expects alerts (--anomalies): per rule and state, the absence alerts after the horizon, the undecided silences. */
  alerts?: AlertsSummary;
}
