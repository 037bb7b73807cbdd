import type { AggregateResult } from './accumulator.js';

/** One window point to write: measurement `window`, tags device/metric/tags, time = start. */
export interface FiredWindow {
  window: string;
  device: string;
  metric: string;
  /** The device's registry tags, canonical "k=v,k2=v2" ('' = none). */
  deviceTags: string;
  /** The reading's own tags, canonical form. */
  readingTags: string;
  start: number;
  /** Exclusive. For a session: last reading + gap + 1 ms. */
  end: number;
  result: AggregateResult;
  /**
   * Sessions only: starts of points emitted earlier for this series that this window
   * replaces (sessions merged into it, or its own start before a late reading moved it
   * earlier); never its own start. The task has the sink delete them (points.ts
   * supersededPoints) after their writes, so InfluxDB ends with the sessions a clean run
   * would write.
   */
  supersedes?: number[];
}

/** A reading that came after its windows were purged (end + allowedLateness ≤ watermark): the late_readings side output. */
export interface LateReading {
  window: string;
  device: string;
  metric: string;
  deviceTags: string;
  readingTags: string;
  time: number;
  value: number;
}

/** Counters since the operator was created (carried through snapshots). */
export interface WindowOperatorStats {
  /** Valid readings processed, late ones included. */
  readings: number;
  late: number;
  /** Skipped: non-finite value or a time outside ±8.64e15 ms (the gateway refuses both, this is defence). */
  invalid: number;
  /** First emissions of a window. */
  fired: number;
  /** Emissions of an already emitted window with corrected aggregates. */
  refired: number;
}
