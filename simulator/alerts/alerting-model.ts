import type { ExpectedResult } from '../report.js';
import type { ExpectedModel } from '../simulation.js';
import type { Shape } from '../options.js';
import { AlertReference, type ReadingRun } from './alert-reference.js';

/**
 * An ExpectedModel that also expects alerts: every call goes on to the window model
 * (`inner`); the readings of each message are gathered into the runs the processors
 * read (a series payload: one run per metric, in first-appearance order; rows and JSON:
 * consecutive readings of one metric) for the absence rules, and result() adds the
 * alert transitions computed from the final window points.
 */
export class AlertingModel implements ExpectedModel {
  private device: string | undefined;
  private metrics: string[] = [];
  private times: number[] = [];
  private readonly episodeDevices: ReadonlySet<string>;
  private fleetFrom = Infinity;

  constructor(
    private readonly inner: ExpectedModel,
    private readonly alerts: AlertReference,
    private readonly shape: Shape,
    /** Episode devices outside the device prefix (ExpectedResult.devices). */
    private readonly devices: readonly string[] = [],
  ) {
    this.episodeDevices = new Set(devices);
  }

  message(device: string, received?: { from: number; to: number }): void {
    this.flush();
    this.device = device;
    this.inner.message?.(device, received);
  }

  add(device: string, metric: string, time: number, value: number): void {
    if (device !== this.device) this.message(device);
    if (time < this.fleetFrom && !this.episodeDevices.has(device)) this.fleetFrom = time;
    this.metrics.push(metric);
    this.times.push(time);
    this.inner.add(device, metric, time, value);
  }

  advance(eventTime: number): void {
    this.inner.advance(eventTime);
  }

  result(): ExpectedResult {
    this.flush();
    const r = this.inner.result();
    const alerts = this.alerts.finish(r.points, r.eventTimeRange.to);
    return {
      ...r,
      ...(this.devices.length > 0 ? { devices: [...this.devices] } : {}),
      ...(Number.isFinite(this.fleetFrom) && this.fleetFrom > r.eventTimeRange.from ? { fleetFrom: this.fleetFrom } : {}),
      alertOpenings: this.alerts.openings,
      alerts,
      alertRules: this.alerts.rules.map((rule) => ({ name: rule.name, kind: rule.kind })),
      alertHorizon: r.eventTimeRange.to,
      ...(this.alerts.undecided > 0 ? { undecidedAlerts: this.alerts.undecided } : {}),
    };
  }

  private flush(): void {
    if (this.device === undefined || this.metrics.length === 0) return;
    this.alerts.message(this.device, runsOf(this.metrics, this.times, this.shape));
    this.metrics = [];
    this.times = [];
  }
}

/** The runs of one message's readings as the processors read them (see AlertingModel). */
export function runsOf(metrics: readonly string[], times: readonly number[], shape: Shape): ReadingRun[] {
  const runs: ReadingRun[] = [];
  if (shape === 'series') {
    const at = new Map<string, ReadingRun>();
    metrics.forEach((m, j) => {
      const run = at.get(m);
      if (run === undefined) {
        const fresh = { metric: m, newest: times[j]! };
        at.set(m, fresh);
        runs.push(fresh);
      } else if (times[j]! > run.newest) run.newest = times[j]!;
    });
    return runs;
  }
  metrics.forEach((m, j) => {
    const last = runs[runs.length - 1];
    if (last?.metric === m) last.newest = Math.max(last.newest, times[j]!);
    else runs.push({ metric: m, newest: times[j]! });
  });
  return runs;
}
