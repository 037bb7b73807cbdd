import type { FieldDiff, Mismatch, PointRef, VerifyResult } from './types.js';

const COLUMNS = ['expected', 'found', 'missing', 'extra', 'mismatched'] as const;

const n = (v: number): string => v.toLocaleString('en-US');

/** "measurement device metric [k=v …] time" of a point. */
export function pointLabel(p: PointRef): string {
  const tags = p.tags === undefined ? '' : ` ${Object.entries(p.tags).map(([k, v]) => `${k}=${v}`).join(',')}`;
  return `${p.measurement}  ${p.device}  ${p.metric}${tags}  ${isoTime(p.time)}`;
}

function isoTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? `${ms} ms` : d.toISOString();
}

function diffText(d: FieldDiff, alpha: number): string {
  const within = `±${+(alpha * 100).toPrecision(6)}%`;
  const expected = Array.isArray(d.expected) ? `${d.expected[0] === d.expected[1] ? d.expected[0] : `${d.expected[0]}..${d.expected[1]}`} ${within}` : String(d.expected);
  return `${d.field}: expected ${expected}, stored ${d.stored === null ? '(none)' : String(d.stored)}`;
}

/**
 * verify's output: what was compared, a table per measurement, the first missing,
 * mismatched and extra points, and a last line that starts "verify: exact" or
 * "verify: NOT exact".
 */
export function formatVerifyResult(r: VerifyResult): string {
  const lines: string[] = [];
  lines.push(`verify: ${n(r.total.expected)} expected points (${n(r.readings)} readings) against ${r.source}`);
  const names = r.measurements.map((m) => m.measurement);
  const width = Math.max('measurement'.length, 'total'.length, ...names.map((s) => s.length));
  const row = (name: string, values: readonly (string | number)[]): string => `  ${name.padEnd(width)}${values.map((v, i) => String(typeof v === 'number' ? n(v) : v).padStart(Math.max(COLUMNS[i]!.length, 9) + 2)).join('')}`;
  lines.push(row('measurement', COLUMNS));
  for (const m of r.measurements) lines.push(row(m.measurement, COLUMNS.map((c) => m[c])));
  if (r.measurements.length > 1) lines.push(row('total', COLUMNS.map((c) => r.total[c])));
  const list = (title: string, count: number, items: readonly PointRef[], detail?: (p: PointRef) => string): void => {
    if (count === 0) return;
    lines.push(`${title} (${n(count)}${items.length < count ? `, first ${items.length} listed` : ''}):`);
    for (const p of items) lines.push(`  ${pointLabel(p)}${detail === undefined ? '' : `  ${detail(p)}`}`);
  };
  list('missing', r.total.missing, r.missing);
  list('mismatched', r.total.mismatched, r.mismatched, (p) => (p as Mismatch).diffs.map((d) => diffText(d, r.quantileRelativeAccuracy)).join('; '));
  list('extra', r.total.extra, r.extra);
  if (r.alerts !== undefined) {
    const per = Object.entries(r.alerts.expected).map(([rule, c]) => `${rule} ${c.firing} firing/${c.resolved} resolved`);
    lines.push(`alerts: compared by rule, device, state and time; value within 1e-9 relative (quantiles within the sketch's ${+(r.quantileRelativeAccuracy * 100).toPrecision(6)}%, counts and silences exact), threshold, firing, severity and tags; expected ${per.length === 0 ? 'none' : per.join(', ')}`);
    if (r.alerts.afterHorizon > 0) lines.push(`alerts: ${n(r.alerts.afterHorizon)} absence alerts dated after the run's last reading not compared (the devices fell silent when the run ended)`);
    if (r.alerts.beforeRun > 0) lines.push(`alerts: ${n(r.alerts.beforeRun)} absence alerts resolved by a device's first reading not compared (silences from before the run)`);
    if (r.alerts.undecided > 0) lines.push(`alerts: ${n(r.alerts.undecided)} silences within 10 s of an absence rule's limits: whether they fired depends on timing (not exact)`);
  }
  if (r.undecided > 0) lines.push(`undecided: ${n(r.undecided)} buffered readings reached the gateway too late to say whether they were within time.maxBackfill (the machine was too slow for the simulator's margin); run again with fewer devices or a lower rate`);
  if (r.exact) lines.push(`verify: exact (${n(r.total.expected)} points)`);
  else {
    const parts = [`${n(r.total.missing)} missing`, `${n(r.total.mismatched)} mismatched`, `${n(r.total.extra)} extra`];
    if (r.undecided > 0) parts.push(`${n(r.undecided)} undecided`);
    if ((r.alerts?.undecided ?? 0) > 0) parts.push(`${n(r.alerts!.undecided)} undecided silences`);
    lines.push(`verify: NOT exact: ${parts.join(', ')} (of ${n(r.total.expected)} expected points)`);
  }
  return `${lines.join('\n')}\n`;
}
