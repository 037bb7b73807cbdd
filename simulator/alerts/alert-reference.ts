import { SluiceError } from '../../core/index.js';
import type { ExpectedAlert, ExpectedPoint } from '../report.js';
import { holdsRef, opposite, selects, type RefAbsence, type RefRule, type RefWindow } from './reference-rules.js';

/** Silences this much shorter than `for`, or longer than `for` + maxOutOfOrderness, are decided; between them it depends on timing. */
export const ABSENCE_GUARD_MS = 10_000;

export interface AlertReferenceOptions {
  /** The config's time.maxOutOfOrderness: how far a partition's watermark trails its newest reading. */
  maxOutOfOrderness: number;
  /** The processors' quantile sketch accuracy: p50/p90/p99 alert values are checked within it. */
  quantileRelativeAccuracy: number;
  /** Registry tags of the devices that have any (none for simulated devices unless enrolled with tags). */
  deviceTags?: (device: string) => Readonly<Record<string, string>>;
}

/** A run of readings of one metric inside a message, as the processors see it, with its newest event time. */
export interface ReadingRun {
  metric: string;
  newest: number;
}

interface AbsenceState {
  lastSeen: number;
  firing: boolean;
  firedAt: number;
}

const FLOAT_TOLERANCE = 1e-9;

/**
 * The alert transitions a run should produce, computed from the expected window points
 * and the readings' times, independently of processors/rules (the README's "Alerts" and
 * docs/architecture.md's rule semantics, written again here):
 * - threshold, per series: fires at the end of the window completing `for` adjacent
 *   windows (ends one step apart) on which the condition held; a window without readings
 *   breaks the run; resolves at the end of the first window where `clear` holds.
 * - rate, per series: (v(end) − v(end − over)) / over s where both windows have points;
 *   fires where the condition holds, resolves where it does not.
 * - sequence, per device: `then` holds on a window ending within (0, within] after a
 *   window where `first` held and that no firing used yet (the newest); resolves at the
 *   first later `then` window where it does not hold.
 * - absence, per device: a silence (the gap between the newest reading so far and a
 *   message's newest reading) of at least `for` + maxOutOfOrderness + 10 s fires, dated
 *   the last reading + `for`, and the message's first matching run resolves it, dated
 *   max(its newest reading, the firing). A silence shorter than `for` − 10 s does not
 *   fire; one in between is counted as undecided. A device silent at the end fires at its
 *   last reading + `for` if that is within the horizon.
 * The points are final aggregates: right when each window's first result is its final
 * one (no reading later than maxOutOfOrderness on the episode devices), or when the
 * values are far from every limit (the normal simulated fleet).
 */
export class AlertReference {
  private readonly absence: { rule: RefAbsence; devices: Map<string, AbsenceState> }[];
  private readonly alerts: ExpectedAlert[] = [];
  /** Silences whose alert depends on timing (see the class comment). */
  undecided = 0;
  /** Per absence rule and device, the newest time of its first matching run (ExpectedResult.alertOpenings). */
  readonly openings: { rule: string; device: string; time: number }[] = [];

  constructor(
    readonly rules: readonly RefRule[],
    private readonly o: AlertReferenceOptions,
  ) {
    this.absence = rules.filter((r): r is RefAbsence => r.kind === 'absence').map((rule) => ({ rule, devices: new Map() }));
  }

  private tagsOf(device: string): Readonly<Record<string, string>> {
    return this.o.deviceTags?.(device) ?? {};
  }

  /** One accepted message of `device` (in the order the device sent them): its runs of readings, in the order the processors read them. */
  message(device: string, runs: readonly ReadingRun[]): void {
    if (this.absence.length === 0 || runs.length === 0) return;
    for (const { rule, devices } of this.absence) {
      if (!selects(rule.devices, device, this.tagsOf(device), {})) continue;
      const matching = rule.metric === undefined ? runs : runs.filter((r) => r.metric === rule.metric);
      if (matching.length === 0) continue;
      let s = devices.get(device);
      if (s === undefined) {
        devices.set(device, (s = { lastSeen: -Infinity, firing: false, firedAt: NaN }));
        this.openings.push({ rule: rule.name, device, time: matching[0]!.newest });
      }
      const newest = Math.max(...matching.map((r) => r.newest));
      const gap = newest - s.lastSeen;
      if (Number.isFinite(gap) && gap >= rule.forMs - ABSENCE_GUARD_MS) {
        if (gap >= rule.forMs + this.o.maxOutOfOrderness + ABSENCE_GUARD_MS) {
          s.firing = true;
          s.firedAt = s.lastSeen + rule.forMs;
          this.push(rule, device, undefined, 'firing', s.firedAt, rule.forMs / 1000, rule.forMs / 1000, 0, 0);
        } else this.undecided++;
      }
      for (const run of matching) {
        if (s.firing) {
          const at = Math.max(run.newest, s.firedAt);
          this.push(rule, device, undefined, 'resolved', at, (at - s.lastSeen) / 1000, rule.forMs / 1000, 0, 0);
          s.firing = false;
        }
        if (run.newest > s.lastSeen) s.lastSeen = run.newest;
      }
    }
  }

  /**
   * Every transition, sorted by time, rule, device: the window rules' from `points`
   * (every expected window point of the run), the absence rules' as seen through
   * message() plus the silences that began before `horizon` − for and never ended.
   */
  finish(points: readonly ExpectedPoint[], horizon: number): ExpectedAlert[] {
    const fromMessages = this.alerts.length; // finish() leaves the reference as it was: it may be asked again
    for (const { rule, devices } of this.absence) {
      for (const [device, s] of devices) {
        if (!s.firing && s.lastSeen + rule.forMs <= horizon) this.push(rule, device, undefined, 'firing', s.lastSeen + rule.forMs, rule.forMs / 1000, rule.forMs / 1000, 0, 0);
      }
    }
    const byWindow = new Map<string, ExpectedPoint[]>();
    for (const p of points) {
      let list = byWindow.get(p.measurement);
      if (list === undefined) byWindow.set(p.measurement, (list = []));
      list.push(p);
    }
    for (const rule of this.rules) {
      if (rule.kind === 'absence') continue;
      const mine = (byWindow.get(rule.window.name) ?? []).filter((p) => selects(rule.devices, p.device, this.tagsOf(p.device), readingTagsOf(p, this.tagsOf(p.device))));
      if (rule.kind === 'sequence') {
        for (const [device, list] of groupBy(mine.filter((p) => p.metric === rule.first.metric || p.metric === rule.then.metric), (p) => p.device)) this.sequence(rule, device, list);
        continue;
      }
      for (const [, list] of groupBy(mine.filter((p) => p.metric === rule.metric), (p) => `${p.device}\u0000${JSON.stringify(p.tags ?? {})}`)) {
        list.sort((a, b) => a.time - b.time);
        if (rule.kind === 'threshold') this.threshold(rule, list);
        else this.rate(rule, list);
      }
    }
    const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
    const all = this.alerts.slice().sort((a, b) => a.time - b.time || cmp(a.rule, b.rule) || cmp(a.device, b.device) || cmp(a.state, b.state));
    this.alerts.length = fromMessages;
    return all;
  }

  private threshold(rule: Extract<RefRule, { kind: 'threshold' }>, series: ExpectedPoint[]): void {
    let firing = false;
    let run = 0;
    let previousEnd = -Infinity;
    for (const p of series) {
      const end = p.time + rule.window.size;
      const [value, relative] = this.aggregate(p, rule.aggregate);
      const adjacent = end === previousEnd + rule.window.step;
      previousEnd = end;
      if (firing) {
        if (holdsRef(rule.clear, value)) {
          firing = false;
          this.push(rule, p.device, p.tags, 'resolved', end, value, rule.clear.value, relative, scaleOf(p));
        }
        continue;
      }
      if (!holdsRef(rule.fire, value)) {
        run = 0;
        continue;
      }
      run = adjacent ? run + 1 : 1;
      if (run >= rule.windows) {
        run = 0;
        firing = true;
        this.push(rule, p.device, p.tags, 'firing', end, value, rule.fire.value, relative, scaleOf(p));
      }
    }
  }

  private rate(rule: Extract<RefRule, { kind: 'rate' }>, series: ExpectedPoint[]): void {
    const byEnd = new Map(series.map((p) => [p.time + rule.window.size, p]));
    const clear = opposite(rule.fire);
    let firing = false;
    for (const p of series) {
      const end = p.time + rule.window.size;
      const before = byEnd.get(end - rule.overMs);
      if (before === undefined) continue;
      const [v, relative] = this.aggregate(p, rule.aggregate);
      const [u] = this.aggregate(before, rule.aggregate);
      const perSecond = (v - u) / (rule.overMs / 1000);
      if (Number.isNaN(perSecond)) continue;
      const scale = Math.max(scaleOf(p), scaleOf(before)) / (rule.overMs / 1000);
      if (!firing && holdsRef(rule.fire, perSecond)) {
        firing = true;
        this.push(rule, p.device, p.tags, 'firing', end, perSecond, rule.fire.value, relative, scale);
      } else if (firing && holdsRef(clear, perSecond)) {
        firing = false;
        this.push(rule, p.device, p.tags, 'resolved', end, perSecond, clear.value, relative, scale);
      }
    }
  }

  private sequence(rule: Extract<RefRule, { kind: 'sequence' }>, device: string, points: ExpectedPoint[]): void {
    const end = (p: ExpectedPoint): number => p.time + rule.window.size;
    const firsts = points.filter((p) => p.metric === rule.first.metric && holdsRef(rule.first, this.aggregate(p, rule.first.aggregate)[0])).map(end);
    const thens = points.filter((p) => p.metric === rule.then.metric).sort((a, b) => a.time - b.time);
    const clear = opposite(rule.then);
    let usedUpTo = -Infinity;
    let firing = false;
    for (const p of thens) {
      const e = end(p);
      const [value, relative] = this.aggregate(p, rule.then.aggregate);
      if (firing) {
        if (holdsRef(clear, value)) {
          firing = false;
          this.push(rule, device, undefined, 'resolved', e, value, clear.value, relative, scaleOf(p));
        }
        continue;
      }
      if (!holdsRef(rule.then, value)) continue;
      const a = Math.max(-Infinity, ...firsts.filter((f) => f > usedUpTo && f < e));
      if (!(e - a <= rule.withinMs)) continue;
      usedUpTo = a;
      firing = true;
      this.push(rule, device, undefined, 'firing', e, value, rule.then.value, relative, scaleOf(p));
    }
  }

  /** A point's aggregate and the relative tolerance its stored alert value is checked with (a quantile: the lower rank's value, within the sketch's accuracy). */
  private aggregate(p: ExpectedPoint, name: string): [number, number] {
    const v = (p as unknown as Record<string, unknown>)[name];
    if (Array.isArray(v)) return [v[0] as number, this.o.quantileRelativeAccuracy];
    if (typeof v !== 'number') throw new SluiceError('SLUICE_SIM_RULES', `a rule reads aggregate "${name}", which window points do not have`);
    return [v, name === 'count' ? 0 : FLOAT_TOLERANCE];
  }

  private push(rule: RefRule, device: string, tags: Readonly<Record<string, string>> | undefined, state: 'firing' | 'resolved', time: number, value: number, threshold: number, relative: number, scale: number): void {
    const all = { ...this.tagsOf(device), ...tags };
    const alert: ExpectedAlert = { rule: rule.name, kind: rule.kind, device, state, time, severity: rule.severity, value, threshold, tolerance: { relative, scale } };
    if (Object.keys(all).length > 0) alert.tags = all;
    this.alerts.push(alert);
  }
}

/** A window's magnitude, the floor of its aggregates' rounding (verify's scale). */
function scaleOf(p: ExpectedPoint): number {
  return Math.max(Math.abs(p.min), Math.abs(p.max));
}

/** A point's reading tags: its tags less the device's registry tags. */
function readingTagsOf(p: ExpectedPoint, deviceTags: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.tags ?? {})) if (deviceTags[k] !== v) out[k] = v;
  return out;
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) {
    const k = key(t);
    let list = out.get(k);
    if (list === undefined) out.set(k, (list = []));
    list.push(t);
  }
  return out;
}

export type { RefWindow };
