import { ConfigError, SluiceError } from '../../core/index.js';
import type { ExpectedPoint, ExpectedResult } from '../report.js';
import { AlignedWindows } from './aligned-windows.js';
import { windowStats } from './exact-stats.js';
import { PointStore } from './point-store.js';
import { SessionWindows } from './session-windows.js';
import { canonicalTags, Series, type WindowTracker } from './series.js';

/** A window definition as the config and the report give it; durations in ms. */
export type ExpectedWindow = ExpectedResult['windows'][number];

export interface ReferenceModelOptions {
  /** Every device id starts with it (checked): verify looks for extra points among these devices. */
  devicePrefix: string;
  /** Relative accuracy of the processors' quantile sketch, for verify (default 0.01, DDSketch's in processors/). */
  quantileRelativeAccuracy?: number;
}

/** The processors' DDSketch relative accuracy (processors/windowing/quantile-sketch.ts, RELATIVE_ACCURACY). */
export const DEFAULT_QUANTILE_RELATIVE_ACCURACY = 0.01;

/** The Date range, which the processors also hold event times to. */
const MAX_EVENT_TIME = 8.64e15;

/**
 * The expected window aggregates of the readings the gateway should accept, computed
 * independently of processors/ (DESIGN.md, "Simulator"): same windows and fields, plain
 * arithmetic (see exact-stats.ts).
 *
 * Feed it every accepted numeric reading, per device in seq order and within a message in
 * reading order (the order first/last ties are broken in: the earlier reading wins a
 * first tie, the later one a last tie); devices may interleave. advance(t) promises that
 * no later reading is stamped before t: windows that can no longer change become compact
 * points and their values are freed. result() finalises the rest.
 *
 * Memory: each reading is held once per window definition until its windows are final
 * (8 bytes plus ~100 bytes per pane or session); a final point costs ~140 bytes.
 */
export class ReferenceModel {
  private readonly windows: ExpectedWindow[];
  private readonly trackers: WindowTracker[] = [];
  private readonly points: PointStore;
  private readonly devicePrefix: string;
  private readonly accuracy: number;
  private readonly devices = new Map<string, Map<string, Series>>();
  private lastDevice: string | undefined;
  private lastSeries: Map<string, Series> | undefined;
  private watermark = -Infinity;
  private readings = 0;
  private from = Infinity;
  private to = -Infinity;

  constructor(windows: readonly ExpectedWindow[], options: ReferenceModelOptions) {
    this.windows = windows.map(checkWindow);
    const names = new Set<string>();
    for (const w of this.windows) {
      if (names.has(w.name)) throw new ConfigError(`window name "${w.name}" is used twice: names are measurements and must be unique`);
      names.add(w.name);
    }
    this.devicePrefix = options.devicePrefix;
    this.accuracy = options.quantileRelativeAccuracy ?? DEFAULT_QUANTILE_RELATIVE_ACCURACY;
    this.points = new PointStore(this.windows.map((w) => w.name));
    this.windows.forEach((w, i) => {
      const emit = (series: Series, time: number, values: Float64Array, first: number, last: number): void => this.points.add(i, series, time, windowStats(values, first, last));
      this.trackers.push(w.type === 'session' ? new SessionWindows(i, w.gap!, emit) : new AlignedWindows(i, w.size!, w.type === 'sliding' ? w.slide! : w.size!, emit));
    });
  }

  /** Readings added so far. */
  get readingCount(): number {
    return this.readings;
  }

  /** Points final so far (the rest are in open windows). */
  get finalPoints(): number {
    return this.points.size;
  }

  /**
   * Adds one accepted numeric reading: event time in ms (a whole number), finite value,
   * further tags of its series if any (registry and reading tags, not device or metric).
   * Throws if the time is before the last advance() (the caller broke its promise).
   */
  add(device: string, metric: string, time: number, value: number, tags?: Readonly<Record<string, string>>): void {
    if (!(time >= this.watermark) || !Number.isSafeInteger(time) || Math.abs(time) > MAX_EVENT_TIME || !Number.isFinite(value)) this.refuse(device, metric, time, value);
    const series = this.series(device, metric, tags);
    for (let i = 0; i < this.trackers.length; i++) this.trackers[i]!.add(series, time, value);
    this.readings++;
    if (time < this.from) this.from = time;
    if (time > this.to) this.to = time;
  }

  /** Every reading added from now on has event time ≥ `eventTime`: finalises the windows that ends before it. */
  advance(eventTime: number): void {
    if (!(eventTime > this.watermark)) return;
    this.watermark = eventTime;
    for (const t of this.trackers) t.advance(eventTime);
  }

  /** Finalises every window and returns the expected result (points ordered by window, time, device, metric, tags). Adding after it throws. */
  result(): ExpectedResult {
    return { ...this.summary(), points: [...this.sortedPoints()] };
  }

  /** result() without its points, for a caller that streams them from sortedPoints(). */
  summary(): Omit<ExpectedResult, 'points'> {
    this.advance(Infinity);
    return {
      windows: this.windows.map((w) => ({ ...w })),
      quantileRelativeAccuracy: this.accuracy,
      devicePrefix: this.devicePrefix,
      eventTimeRange: this.readings === 0 ? { from: 0, to: 0 } : { from: this.from, to: this.to },
      readings: this.readings,
    };
  }

  /** Finalises every window and yields the points in result()'s order, one object at a time. */
  sortedPoints(): Generator<ExpectedPoint> {
    this.advance(Infinity);
    return this.points.sorted();
  }

  private series(device: string, metric: string, tags: Readonly<Record<string, string>> | undefined): Series {
    let byMetric = this.lastSeries;
    if (device !== this.lastDevice || byMetric === undefined) {
      byMetric = this.devices.get(device);
      if (byMetric === undefined) {
        if (!device.startsWith(this.devicePrefix)) throw new SluiceError('SLUICE_SIM_EXPECTED_INPUT', `device "${device}" does not start with the device prefix "${this.devicePrefix}": verify would not look for its points`);
        this.devices.set(device, (byMetric = new Map()));
      }
      this.lastDevice = device;
      this.lastSeries = byMetric;
    }
    const tagKey = tags === undefined ? '' : canonicalTags(tags);
    const key = tagKey === '' ? metric : `${metric}\u0000${tagKey}`;
    let series = byMetric.get(key);
    if (series === undefined) {
      if (tags !== undefined && ('device' in tags || 'metric' in tags)) throw new SluiceError('SLUICE_SIM_EXPECTED_INPUT', `reading tags of ${device}/${metric} may not be named device or metric`);
      byMetric.set(key, (series = new Series(device, metric, tagKey === '' ? undefined : { ...tags }, tagKey)));
    }
    return series;
  }

  private refuse(device: string, metric: string, time: number, value: number): never {
    if (time < this.watermark) throw new SluiceError('SLUICE_SIM_EXPECTED_ORDER', `reading ${device}/${metric} at ${time} is before ${this.watermark}, which advance() promised no later reading would be`);
    throw new SluiceError('SLUICE_SIM_EXPECTED_INPUT', `reading ${device}/${metric}: time ${time} must be whole ms within ±8.64e15 and value ${value} finite`);
  }
}

/** Validates a window definition (the processors' rules) and keeps only the fields of its type. */
function checkWindow(w: ExpectedWindow, i: number): ExpectedWindow {
  const ms = (field: 'size' | 'slide' | 'gap'): number => {
    const v = w[field];
    if (v === undefined || !Number.isSafeInteger(v) || v <= 0) throw new ConfigError(`windows[${i}].${field} must be a whole number of milliseconds > 0, got ${v}`);
    return v;
  };
  if (w.type === 'tumbling') return { name: w.name, type: 'tumbling', size: ms('size') };
  if (w.type === 'session') return { name: w.name, type: 'session', gap: ms('gap') };
  if (w.type !== 'sliding') throw new ConfigError(`windows[${i}].type must be tumbling, sliding or session, got ${String(w.type)}`);
  const size = ms('size');
  const slide = ms('slide');
  if (slide > size) throw new ConfigError(`windows[${i}].slide (${slide} ms) must not exceed size (${size} ms)`);
  return { name: w.name, type: 'sliding', size, slide };
}
