import { setTimeout as sleep } from 'node:timers/promises';
import { SluiceError } from '../../core/index.js';
import { REPORT_VERSION, type ExpectedLateReading, type ExpectedPoint, type ExpectedResult, type SimulationReport } from '../report.js';
import { compareFields } from './compare.js';
import { ReportInvalidError } from './errors.js';
import { FirstN } from './first-n.js';
import { InfluxPointSource, type VerifyInfluxConfig } from './influx-source.js';
import type { MeasurementCounts, Mismatch, PointRef, StoredPoint, StoredPointSource, VerifyResult } from './types.js';
import { verifyAlerts, type AlertsSummary } from './verify-alerts.js';

export interface VerifyOptions {
  /** How many missing, extra and mismatched points to list, each (default 10). */
  maxListed?: number;
}

export const DEFAULT_MAX_LISTED = 10;

/** Where the processors put readings that missed their windows (processors/points.ts). */
const LATE_MEASUREMENT = 'late_readings';

/**
 * Compares a simulate report's expected points with what InfluxDB holds (DESIGN.md,
 * "Simulator"): per measurement, expected / found / missing / extra / mismatched.
 * Throws ReportInvalidError for a report of another version, VerifyInfluxUnavailableError
 * or VerifyQueryError when InfluxDB cannot answer.
 */
export function verifyReport(report: SimulationReport, influx: VerifyInfluxConfig, options: VerifyOptions = {}): Promise<VerifyResult> {
  checkReport(report);
  return verifyExpected(report.expected, new InfluxPointSource(influx), options);
}

export interface UntilExactOptions extends VerifyOptions {
  /** Give up (return the last result) once this long passes with no change in what is found. */
  timeoutMs: number;
  /** Pause between attempts (default 2 s). */
  intervalMs?: number;
  /** Hears each attempt that was not exact. */
  attempt?: (result: VerifyResult) => void;
}

/**
 * verifyReport again every `intervalMs` until it is exact, or until `timeoutMs` has passed
 * with nothing changing in what it finds (the last windows of a run are written only once
 * the processors' watermark passes them, and processors that fell behind, e.g. while the
 * log was unavailable, write them later: a deadline from the start would call that a
 * loss). Never longer than `timeoutMs` × MAX_WAIT_FACTOR; returns the last result. An
 * unreachable InfluxDB is retried until the deadline too.
 */
export async function verifyReportUntilExact(report: SimulationReport, influx: VerifyInfluxConfig, options: UntilExactOptions): Promise<VerifyResult> {
  const cap = Date.now() + MAX_WAIT_FACTOR * options.timeoutMs;
  let deadline = Date.now() + options.timeoutMs;
  let seen = '';
  for (;;) {
    let result: VerifyResult | undefined;
    try {
      result = await verifyReport(report, influx, options);
    } catch (err) {
      if (!(err instanceof SluiceError && err.canRetry) || Date.now() >= deadline) throw err;
    }
    if (result !== undefined) {
      const t = result.total;
      const state = `${t.found} ${t.missing} ${t.extra} ${t.mismatched} ${result.undecided}`;
      if (state !== seen) {
        if (seen !== '') deadline = Math.min(cap, Date.now() + options.timeoutMs);
        seen = state;
      }
    }
    if (result !== undefined && (result.exact || Date.now() >= deadline)) return result;
    if (result !== undefined) options.attempt?.(result);
    await sleep(Math.min(options.intervalMs ?? 2_000, Math.max(0, deadline - Date.now())));
  }
}

/** How many times its `timeoutMs` verifyReportUntilExact waits at most while the stored points keep changing. */
export const MAX_WAIT_FACTOR = 4;

/** Throws ReportInvalidError unless `report` is a simulate report of this version with an expected result. */
export function checkReport(report: unknown): asserts report is SimulationReport {
  const r = report as Partial<SimulationReport> | null;
  if (typeof r !== 'object' || r === null || !('version' in r)) throw new ReportInvalidError('the report is not a `sluice simulate --report` file (no version)');
  if (r.version !== REPORT_VERSION) throw new ReportInvalidError(`the report is version ${String(r.version)}; this sluice reads version ${REPORT_VERSION}: run \`sluice simulate --report FILE\` with this version again`);
  const e = r.expected as Partial<ExpectedResult> | undefined;
  if (typeof e !== 'object' || e === null || !Array.isArray(e.points) || !Array.isArray(e.windows) || typeof e.devicePrefix !== 'string' || typeof e.quantileRelativeAccuracy !== 'number' || typeof e.eventTimeRange?.from !== 'number' || typeof e.eventTimeRange.to !== 'number') {
    throw new ReportInvalidError('the report has no complete `expected` section (windows, points, devicePrefix, quantileRelativeAccuracy, eventTimeRange): was it written by `sluice simulate --report`?');
  }
}

/** The key of a point: measurement, device, metric, the other non-empty tags (sorted), time. */
function keyOf(measurement: string, device: string, metric: string, tags: Readonly<Record<string, string>> | undefined, time: number): string {
  let key = `${measurement}\u0000${device}\u0000${metric}\u0000`;
  if (tags !== undefined) {
    for (const k of Object.keys(tags).sort()) {
      if (k === 'device' || k === 'metric' || tags[k] === '') continue;
      key += `${k}=${tags[k]}\u0001`;
    }
  }
  return `${key}\u0000${time}`;
}

/** The further tags of a stored point (without device, metric and empty ones), undefined when none. */
function otherTags(tags: Record<string, string>): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const [k, v] of Object.entries(tags)) if (k !== 'device' && k !== 'metric' && v !== '') (out ??= {})[k] = v;
  return out;
}

function ref(p: ExpectedPoint | PointRef): PointRef {
  const r: PointRef = { measurement: p.measurement, device: p.device, metric: p.metric, time: p.time };
  if (p.tags !== undefined && Object.keys(p.tags).length > 0) r.tags = { ...p.tags };
  return r;
}

/** Earliest window first, then measurement, device, metric, tags. */
function byTime(a: PointRef, b: PointRef): number {
  const s = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
  return a.time - b.time || s(a.measurement, b.measurement) || s(a.device, b.device) || s(a.metric, b.metric) || s(JSON.stringify(a.tags ?? {}), JSON.stringify(b.tags ?? {}));
}

/** The comparison itself, against any source of stored points. */
export async function verifyExpected(expected: ExpectedResult, source: StoredPointSource, options: VerifyOptions = {}): Promise<VerifyResult> {
  const maxListed = options.maxListed ?? DEFAULT_MAX_LISTED;
  const points = expected.points;
  const counts = new Map<string, MeasurementCounts>();
  const countsOf = (measurement: string): MeasurementCounts => {
    let c = counts.get(measurement);
    if (c === undefined) counts.set(measurement, (c = { measurement, expected: 0, found: 0, missing: 0, extra: 0, mismatched: 0 }));
    return c;
  };
  for (const w of expected.windows) countsOf(w.name);

  // Index the expected points; per measurement, the window starts to look in.
  const index = new Map<string, number>();
  const ranges = new Map<string, { from: number; to: number }>();
  for (const w of expected.windows) {
    // A window holding a reading at t starts in (t − size, t]; a session starts at a reading.
    const reach = w.type === 'session' ? 0 : w.size! - 1;
    ranges.set(w.name, { from: expected.eventTimeRange.from - reach, to: expected.eventTimeRange.to });
  }
  points.forEach((p, i) => {
    if (typeof p?.measurement !== 'string' || typeof p.device !== 'string' || typeof p.metric !== 'string' || !Number.isFinite(p.time)) {
      throw new ReportInvalidError(`the report's expected.points[${i}] is not a point (measurement, device, metric, time): ${JSON.stringify(p)?.slice(0, 200)}`);
    }
    countsOf(p.measurement).expected++;
    index.set(keyOf(p.measurement, p.device, p.metric, p.tags, p.time), i);
    const range = ranges.get(p.measurement);
    if (range === undefined) ranges.set(p.measurement, { from: p.time, to: p.time });
    else {
      range.from = Math.min(range.from, p.time);
      range.to = Math.max(range.to, p.time);
    }
  });

  // Late readings (a report that modelled lateness): measurement late_readings, tag window, field value.
  const late = expected.late;
  const lateIndex = new Map<string, number>();
  if (late !== undefined) {
    const c = countsOf(LATE_MEASUREMENT);
    late.forEach((l, i) => {
      c.expected++;
      lateIndex.set(keyOf(LATE_MEASUREMENT, l.device, l.metric, { ...l.tags, window: l.window }, l.time), i);
    });
    ranges.set(LATE_MEASUREMENT, { from: expected.eventTimeRange.from, to: expected.eventTimeRange.to });
  }
  const lateFound = new Uint8Array(late?.length ?? 0);
  const lateRef = (l: ExpectedLateReading): PointRef => ref({ measurement: LATE_MEASUREMENT, device: l.device, metric: l.metric, tags: { ...l.tags, window: l.window }, time: l.time });

  const found = new Uint8Array(points.length);
  const missing = new FirstN<PointRef>(maxListed, byTime);
  const extra = new FirstN<PointRef>(maxListed, byTime);
  const mismatched = new FirstN<Mismatch>(maxListed, byTime);
  const alpha = expected.quantileRelativeAccuracy;
  const visitLate = (s: StoredPoint, device: string, metric: string, tags: Record<string, string> | undefined): void => {
    const c = countsOf(LATE_MEASUREMENT);
    const i = lateIndex.get(keyOf(LATE_MEASUREMENT, device, metric, tags, s.time));
    if (i === undefined || lateFound[i] === 1) {
      c.extra++;
      extra.offer(ref({ measurement: LATE_MEASUREMENT, device, metric, tags, time: s.time }));
      return;
    }
    lateFound[i] = 1;
    c.found++;
    const values = late![i]!.values;
    const stored = s.fields.value;
    if (typeof stored !== 'number' || !values.includes(stored)) {
      c.mismatched++;
      mismatched.offer({ ...lateRef(late![i]!), diffs: [{ field: 'value', expected: values.length === 1 ? values[0]! : [Math.min(...values), Math.max(...values)], stored: typeof stored === 'number' ? stored : null }] });
    }
  };
  const visit = (s: StoredPoint): void => {
    const device = s.tags.device ?? '';
    const metric = s.tags.metric ?? '';
    const tags = otherTags(s.tags);
    if (s.measurement === LATE_MEASUREMENT && late !== undefined) return visitLate(s, device, metric, tags);
    const c = countsOf(s.measurement);
    const i = index.get(keyOf(s.measurement, device, metric, tags, s.time));
    if (i === undefined || found[i] === 1) {
      c.extra++;
      extra.offer(ref({ measurement: s.measurement, device, metric, tags, time: s.time }));
      return;
    }
    found[i] = 1;
    c.found++;
    const diffs = compareFields(points[i]!, s.fields, alpha);
    if (diffs.length > 0) {
      c.mismatched++;
      mismatched.offer({ ...ref(points[i]!), diffs });
    }
  };
  // The run's devices: those with the prefix, and the --anomalies episode devices by exact id.
  // The fleet's points start at fleetFrom when the episodes start earlier: an earlier run's points of the same ids are not this run's.
  const fleetShift = expected.fleetFrom === undefined ? 0 : Math.max(0, expected.fleetFrom - expected.eventTimeRange.from);
  const scan = async function* (measurement: string, from: number, to: number): AsyncIterable<StoredPoint[]> {
    yield* source.scan({ measurement, devicePrefix: expected.devicePrefix, from: from + fleetShift, to });
    for (const device of expected.devices ?? []) yield* source.scan({ measurement, devicePrefix: device, exact: true, from, to });
  };
  for (const [measurement, range] of ranges) {
    for await (const batch of scan(measurement, range.from, range.to)) for (const s of batch) visit(s);
  }
  let alerts: AlertsSummary | undefined;
  if (expected.alerts !== undefined) {
    // Alerts are dated at window ends and silences' ends: from the first reading on, with no upper bound (verify-alerts.ts leaves out the silences after the run).
    const check = await verifyAlerts(expected, (m) => scan(m, expected.eventTimeRange.from, Number.MAX_SAFE_INTEGER), { missing, extra, mismatched });
    counts.set(check.counts.measurement, check.counts);
    alerts = check.summary;
  }
  points.forEach((p, i) => {
    if (found[i] === 1) return;
    countsOf(p.measurement).missing++;
    missing.offer(ref(p));
  });
  late?.forEach((l, i) => {
    if (lateFound[i] === 1) return;
    countsOf(LATE_MEASUREMENT).missing++;
    missing.offer(lateRef(l));
  });
  const undecided = expected.undecided ?? 0;

  const measurements = [...counts.values()];
  const total = { expected: 0, found: 0, missing: 0, extra: 0, mismatched: 0 };
  for (const c of measurements) {
    total.expected += c.expected;
    total.found += c.found;
    total.missing += c.missing;
    total.extra += c.extra;
    total.mismatched += c.mismatched;
  }
  return {
    exact: total.missing === 0 && total.extra === 0 && total.mismatched === 0 && undecided === 0 && (alerts?.undecided ?? 0) === 0,
    undecided,
    source: source.description,
    readings: expected.readings,
    quantileRelativeAccuracy: alpha,
    measurements,
    total,
    missing: missing.items,
    extra: extra.items,
    mismatched: mismatched.items,
    maxListed,
    ...(alerts === undefined ? {} : { alerts }),
  };
}
