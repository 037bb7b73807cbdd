import { ConfigError, SluiceError } from '../../core/index.js';
import type { ExpectedLateReading, ExpectedPoint, ExpectedResult } from '../report.js';
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
  /** Devices outside the prefix whose readings are expected too (the --anomalies episodes, verified by exact id). */
  devices?: readonly string[];
  /** Relative accuracy of the processors' quantile sketch, for verify (default 0.01, DDSketch's in processors/). */
  quantileRelativeAccuracy?: number;
  /** The config's `time` section, ms: with it, late readings are told apart as the processors should (else none is late). */
  time?: ReferenceTime;
}

/** The event-time settings lateness depends on (DESIGN.md, "Event time"; config `time`). */
export interface ReferenceTime {
  maxOutOfOrderness: number;
  allowedLateness: number;
  maxBackfill: number;
}

/** When the gateway received a message: at or after `from`, before or at `to` (ms since the epoch). */
export interface ReceiveTime {
  from: number;
  to: number;
}

/** A device's event time: the newest reading of its messages so far, and of the message being added. */
interface DeviceTime {
  max: number;
  messageMax: number;
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
 * Lateness (with `time`), written from DESIGN.md's rules, not from processors/: each
 * device has its own clock, the newest event time of its messages before the current one;
 * its watermark is that less maxOutOfOrderness. A reading goes into each of its windows
 * that ends after watermark − allowedLateness (a session: after merging with the open
 * sessions it reaches); a reading no window takes, or one older than maxBackfill
 * before the message's receive time, is late: the processors write it to late_readings,
 * once per window definition. Start each message with message(); readings added without
 * it are each a message of their own.
 *
 * Memory: each reading is held once per window definition until its windows are final
 * (8 bytes plus ~100 bytes per pane or session); a final point costs ~140 bytes.
 */
export class ReferenceModel {
  private readonly windows: ExpectedWindow[];
  private readonly trackers: WindowTracker[] = [];
  private readonly points: PointStore;
  private readonly devicePrefix: string;
  private readonly extraDevices: ReadonlySet<string>;
  private readonly accuracy: number;
  private readonly devices = new Map<string, Map<string, Series>>();
  private lastDevice: string | undefined;
  private lastSeries: Map<string, Series> | undefined;
  private watermark = -Infinity;
  private readonly time: ReferenceTime | undefined;
  private readonly clocks = new Map<string, DeviceTime>();
  /** The message being added: its device, its device's clock, and the watermark its readings are judged by. */
  private current: { device: string; clock: DeviceTime; explicit: boolean; closedBefore: number; oldest: number } | undefined;
  private readonly late = new Map<string, ExpectedLateReading>();
  private lateCount = 0;
  /** Readings of the current message stamped at or after it are within maxBackfill whenever the gateway received it. */
  private currentNewest = -Infinity;
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
    this.extraDevices = new Set(options.devices ?? []);
    this.time = options.time;
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

  /** Late readings so far (each counted once per window definition that refused it). */
  get lateReadingCount(): number {
    return this.lateCount;
  }

  /**
   * Starts a message of `device`: the readings added until the next message() are judged
   * against the device's clock as it was before this message. `received` bounds when the
   * gateway received it (for time.maxBackfill; default: now, which only matters for
   * readings near maxBackfill old). A reading whose lateness depends on where in `received`
   * the gateway's receive time fell throws SLUICE_SIM_EXPECTED_AMBIGUOUS.
   */
  message(device: string, received?: ReceiveTime): void {
    this.startMessage(device, received, true);
  }

  private startMessage(device: string, received: ReceiveTime | undefined, explicit: boolean): void {
    this.endMessage();
    if (this.time === undefined) return;
    let clock = this.clocks.get(device);
    if (clock === undefined) this.clocks.set(device, (clock = { max: -Infinity, messageMax: -Infinity }));
    const at = received ?? { from: Date.now(), to: Date.now() };
    this.current = { device, clock, explicit, closedBefore: clock.max - this.time.maxOutOfOrderness - this.time.allowedLateness, oldest: at.from - this.time.maxBackfill };
    this.currentNewest = at.to - this.time.maxBackfill;
  }

  /**
   * Adds one accepted numeric reading: event time in ms (a whole number), finite value,
   * further tags of its series if any (registry and reading tags, not device or metric).
   * Throws if the time is before the last advance() (the caller broke its promise).
   */
  add(device: string, metric: string, time: number, value: number, tags?: Readonly<Record<string, string>>): void {
    if (!(time >= this.watermark) || !Number.isSafeInteger(time) || Math.abs(time) > MAX_EVENT_TIME || !Number.isFinite(value)) this.refuse(device, metric, time, value);
    if (this.time !== undefined && (this.current?.device !== device || !this.current.explicit)) this.startMessage(device, undefined, false);
    const series = this.series(device, metric, tags);
    const m = this.current;
    if (m === undefined) {
      for (let i = 0; i < this.trackers.length; i++) this.trackers[i]!.add(series, time, value, -Infinity);
    } else {
      if (time > m.clock.messageMax) m.clock.messageMax = time;
      if (time < this.currentNewest && time >= m.oldest) {
        throw new SluiceError('SLUICE_SIM_EXPECTED_AMBIGUOUS', `reading ${device}/${metric} at ${time} is about time.maxBackfill old: whether it is late depends on when within ${m.oldest + this.time!.maxBackfill}..${this.currentNewest + this.time!.maxBackfill} the gateway received it`);
      }
      const backfilled = time >= m.oldest;
      for (let i = 0; i < this.trackers.length; i++) if (!backfilled || !this.trackers[i]!.add(series, time, value, m.closedBefore)) this.addLate(i, series, time, value);
    }
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
    this.endMessage();
    return {
      ...(this.time === undefined ? {} : { late: this.sortedLate(), lateReadings: this.lateCount }),
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

  private endMessage(): void {
    const m = this.current;
    if (m === undefined) return;
    if (m.clock.messageMax > m.clock.max) m.clock.max = m.clock.messageMax;
    m.clock.messageMax = -Infinity;
    this.current = undefined;
  }

  /** A late reading goes to late_readings once per window definition, keyed by series, window name and time (later ones overwrite in InfluxDB). */
  private addLate(window: number, series: Series, time: number, value: number): void {
    this.lateCount++;
    const name = this.windows[window]!.name;
    const key = `${name}\u0000${series.device}\u0000${series.metric}\u0000${series.tagKey}\u0000${time}`;
    const found = this.late.get(key);
    if (found !== undefined) found.values.push(value);
    else this.late.set(key, { window: name, device: series.device, metric: series.metric, ...(series.tags === undefined ? {} : { tags: { ...series.tags } }), time, values: [value] });
  }

  private sortedLate(): ExpectedLateReading[] {
    const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
    return [...this.late.values()].sort((a, b) => a.time - b.time || cmp(a.window, b.window) || cmp(a.device, b.device) || cmp(a.metric, b.metric) || cmp(JSON.stringify(a.tags ?? {}), JSON.stringify(b.tags ?? {})));
  }

  private series(device: string, metric: string, tags: Readonly<Record<string, string>> | undefined): Series {
    let byMetric = this.lastSeries;
    if (device !== this.lastDevice || byMetric === undefined) {
      byMetric = this.devices.get(device);
      if (byMetric === undefined) {
        if (!device.startsWith(this.devicePrefix) && !this.extraDevices.has(device)) throw new SluiceError('SLUICE_SIM_EXPECTED_INPUT', `device "${device}" does not start with the device prefix "${this.devicePrefix}": verify would not look for its points`);
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
