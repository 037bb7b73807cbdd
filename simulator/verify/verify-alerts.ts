import type { ExpectedAlert, ExpectedResult } from '../report.js';
import { FirstN } from './first-n.js';
import type { MeasurementCounts, Mismatch, PointRef, StoredPoint } from './types.js';

/** Where the processors write alert transitions (README, "What lands in InfluxDB"). */
export const ALERTS_MEASUREMENT = 'alerts';
/** The tags every alert point has; the others are the device's registry tags and the reading's tags. */
const OWN_TAGS = new Set(['rule', 'device', 'severity', 'state']);

/** What verify says of the alerts beyond the counts. */
export interface AlertsSummary {
  /** Stored absence transitions dated after the run's newest reading: not compared (every device falls silent when a run ends). */
  afterHorizon: number;
  /** Stored absence resolves at a device's first reading of the run: the end of a silence from before it (an earlier run's), not compared. */
  beforeRun: number;
  /** Expected transitions per rule and state. */
  expected: Record<string, { firing: number; resolved: number }>;
  /** Silences the reference could not decide (ExpectedResult.undecidedAlerts). */
  undecided: number;
}

export interface AlertsCheck {
  counts: MeasurementCounts;
  summary: AlertsSummary;
}

/** The identity of an alert point: rule, device, state, time (tags rule and device, tag state, the transition's event time). */
function keyOf(rule: string, device: string, state: string, time: number): string {
  return `${rule}\u0000${device}\u0000${state}\u0000${time}`;
}

/** An alert as verify lists it: measurement alerts, the device, "rule=… state=…" in the metric column. */
export function alertRef(a: { rule: string; device: string; state: string; time: number; tags?: Record<string, string> }): PointRef {
  const r: PointRef = { measurement: ALERTS_MEASUREMENT, device: a.device, metric: `rule=${a.rule} state=${a.state}`, time: a.time };
  if (a.tags !== undefined && Object.keys(a.tags).length > 0) r.tags = { ...a.tags };
  return r;
}

/** |e − s| ≤ relative × max(|e|, |s|, scale); relative 0 is exact. */
function within(e: number, s: number, t: ExpectedAlert['tolerance']): boolean {
  return Math.abs(e - s) <= t.relative * Math.max(Math.abs(e), Math.abs(s), t.scale);
}

/**
 * Compares the expected alert transitions with measurement `alerts`, like the window
 * points: each stored point of the run's devices is found (by rule, device, state and
 * time), extra, or left out (absence only: dated after the horizon, or a resolve at a
 * device's first reading, which ends a silence from before the run); found ones are mismatched
 * when severity, the other tags, `firing` (1|0), `threshold` (1e-9 relative) or `value`
 * (the expected alert's tolerance: 1e-9 relative for float aggregates and rates, the
 * sketch's accuracy for quantiles, exact for counts and seconds of silence) differ.
 */
export async function verifyAlerts(
  expected: ExpectedResult,
  scan: (measurement: string) => AsyncIterable<StoredPoint[]>,
  lists: { missing: FirstN<PointRef>; extra: FirstN<PointRef>; mismatched: FirstN<Mismatch> },
): Promise<AlertsCheck> {
  const alerts = expected.alerts ?? [];
  const kinds = new Map((expected.alertRules ?? []).map((r) => [r.name, r.kind]));
  const horizon = expected.alertHorizon ?? Infinity;
  const counts: MeasurementCounts = { measurement: ALERTS_MEASUREMENT, expected: alerts.length, found: 0, missing: 0, extra: 0, mismatched: 0 };
  const summary: AlertsSummary = { afterHorizon: 0, beforeRun: 0, expected: {}, undecided: expected.undecidedAlerts ?? 0 };
  const openings = new Set((expected.alertOpenings ?? []).map((o) => keyOf(o.rule, o.device, 'resolved', o.time)));
  const index = new Map<string, number>();
  alerts.forEach((a, i) => {
    index.set(keyOf(a.rule, a.device, a.state, a.time), i);
    const per = (summary.expected[a.rule] ??= { firing: 0, resolved: 0 });
    per[a.state]++;
  });
  const found = new Uint8Array(alerts.length);
  for await (const batch of scan(ALERTS_MEASUREMENT)) {
    for (const s of batch) {
      const rule = s.tags.rule ?? '';
      const device = s.tags.device ?? '';
      const state = s.tags.state ?? '';
      const tags: Record<string, string> = {};
      for (const [k, v] of Object.entries(s.tags)) if (!OWN_TAGS.has(k) && v !== '') tags[k] = v;
      const i = index.get(keyOf(rule, device, state, s.time));
      if (i === undefined || found[i] === 1) {
        if (kinds.get(rule) === 'absence' && s.time > horizon) {
          summary.afterHorizon++;
          continue;
        }
        if (kinds.get(rule) === 'absence' && openings.has(keyOf(rule, device, state, s.time))) {
          summary.beforeRun++;
          continue;
        }
        counts.extra++;
        lists.extra.offer(alertRef({ rule, device, state, time: s.time, tags }));
        continue;
      }
      found[i] = 1;
      counts.found++;
      const e = alerts[i]!;
      const diffs: Mismatch['diffs'] = [];
      const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
      const value = num(s.fields.value);
      if (value === null || !within(e.value, value, e.tolerance)) diffs.push({ field: 'value', expected: e.value, stored: value });
      const threshold = num(s.fields.threshold);
      if (threshold === null || !within(e.threshold, threshold, { relative: 1e-9, scale: 0 })) diffs.push({ field: 'threshold', expected: e.threshold, stored: threshold });
      const firing = num(s.fields.firing);
      if (firing !== (e.state === 'firing' ? 1 : 0)) diffs.push({ field: 'firing', expected: e.state === 'firing' ? 1 : 0, stored: firing });
      if (s.tags.severity !== e.severity) diffs.push({ field: `severity ${s.tags.severity ?? '(none)'}, expected ${e.severity}`, expected: 0, stored: null });
      if (JSON.stringify(sorted(tags)) !== JSON.stringify(sorted(e.tags ?? {}))) diffs.push({ field: `tags ${JSON.stringify(sorted(tags))}, expected ${JSON.stringify(sorted(e.tags ?? {}))}`, expected: 0, stored: null });
      if (diffs.length > 0) {
        counts.mismatched++;
        lists.mismatched.offer({ ...alertRef(e), diffs });
      }
    }
  }
  alerts.forEach((a, i) => {
    if (found[i] === 1) return;
    counts.missing++;
    lists.missing.offer(alertRef(a));
  });
  return { counts, summary };
}

function sorted(tags: Record<string, string>): [string, string][] {
  return Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
