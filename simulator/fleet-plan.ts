import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { murmur3 } from '../routing/index.js';
import type { SimulationOptions } from './options.js';

/** Ways a simulated message can be broken, each named by the gateway reason it must be refused with. */
export const MALFORMED_KINDS = ['decode_error', 'json_invalid', 'empty_batch', 'non_finite_value', 'metric_name_invalid', 'timestamp_skew'] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

/** The readings of one message, as parallel arrays (metric is an index into the device's metric names). */
export interface PlannedMessage {
  device: number;
  /** Message number of this device, from 0. */
  k: number;
  /** Its payload's seq: FleetPlan.seqBase + k + 1. */
  seq: number;
  metric: Uint8Array;
  time: Float64Array;
  value: Float64Array;
  /** Send it twice with the same seq. */
  duplicate: boolean;
  /** Send a broken payload of this kind instead (none of its readings count). */
  malformed: MalformedKind | undefined;
}

/** How far apart performance.now() and Date.now() may drift during a run, ms. */
const CLOCK_SLACK_MS = 500;
/** How long after its return an offline device's backlog may take to reach the gateway (checked per message: see runSimulation). */
export const BACKLOG_MARGIN_MS = 5_000;

/** Metric names simulated devices report, in this order. */
export const METRIC_NAMES = ['temperature', 'humidity', 'pressure', 'vibration', 'voltage', 'current', 'co2', 'noise', 'light', 'flow', 'level', 'rpm'];

/**
 * What every simulated device sends, as a pure function of the options: message k of
 * device d is the same whatever the network did, so the same seed gives the same
 * readings, the same duplicates and the same broken payloads, and the expected
 * aggregates depend on nothing else.
 *
 * Timing: each device sends one message every `intervalMs` (fleet rate / devices /
 * batch), starting at its own phase in [0, intervalMs); reading j of message k carries
 * the event time of its sampling, spread evenly over the interval before the send.
 * A disordered reading is stamped up to maxDelay earlier (it was held back in transit).
 */
export class FleetPlan {
  /** Milliseconds between two messages of one device. */
  readonly intervalMs: number;
  /** Event time origin (ms since the epoch). */
  readonly startMs: number;
  /**
   * Message k's seq is seqBase + k + 1, with seqBase = the start second × 10^6: a later run
   * numbers after every earlier run's messages (unless a device sent over a million a
   * second), as a real device that persists its seq does. Seqs restarting at 1 would be
   * dropped as duplicates of the previous run by a gateway that saw it.
   */
  readonly seqBase: number;
  private readonly phase: Float64Array;
  /** Devices sorted by phase: the global send order within each round. */
  readonly order: Uint32Array;

  constructor(
    readonly options: SimulationOptions,
    startMs: number,
  ) {
    const o = options;
    this.startMs = startMs;
    this.seqBase = Math.max(0, Math.floor(startMs / 1000)) * 1_000_000;
    this.intervalMs = (o.devices * o.batch * 1000) / o.rate;
    const rng = xoroshiro128plus(o.seed);
    this.phase = new Float64Array(o.devices);
    for (let d = 0; d < o.devices; d++) this.phase[d] = uniformFloat64(rng) * this.intervalMs;
    this.order = Uint32Array.from({ length: o.devices }, (_, d) => d).sort((a, b) => this.phase[a]! - this.phase[b]! || a - b);
  }

  /** The id of device d. */
  deviceId(d: number): string {
    return `${this.options.devicePrefix}${String(d).padStart(5, '0')}`;
  }

  /** The metrics device d reports (a rotation of METRIC_NAMES, so devices differ). */
  metricNames(d: number): string[] {
    return Array.from({ length: this.options.metrics }, (_, i) => METRIC_NAMES[(d + i) % METRIC_NAMES.length]! + (i >= METRIC_NAMES.length ? `_${i}` : ''));
  }

  /** When message k of device d is due, in ms after the run starts. */
  sendOffset(d: number, k: number): number {
    return this.phase[d]! + k * this.intervalMs;
  }

  /** When device d is offline (ms after the run starts, [from, to)), or undefined: the first offlineShare of the devices, from a quarter into the run. */
  offline(d: number): { from: number; to: number } | undefined {
    const o = this.options;
    if (d >= Math.round(o.offlineShare * o.devices)) return undefined;
    const from = o.duration / 4;
    return { from, to: from + o.offlineDuration };
  }

  /**
   * When the gateway receives device d's buffered messages, for the reference model: from
   * its return (less a little for the two clocks the simulator reads) to BACKLOG_MARGIN_MS
   * after it. Undefined for a device that is never offline.
   */
  backlogReceipt(d: number): { from: number; to: number } | undefined {
    const away = this.offline(d);
    if (away === undefined) return undefined;
    return { from: this.startMs + away.to - CLOCK_SLACK_MS, to: this.startMs + away.to + BACKLOG_MARGIN_MS };
  }

  /**
   * True when offline device d does not sample message k: the readings it would hold are
   * about maxBackfill old when the backlog reaches the gateway (within backlogReceipt's
   * span), so whether they are late would depend on the gateway's exact receive time.
   * Leaving them out makes every buffered reading clearly in its window or late.
   */
  silent(d: number, k: number): boolean {
    const receipt = this.backlogReceipt(d);
    if (receipt === undefined) return false;
    const away = this.offline(d)!;
    const due = this.sendOffset(d, k);
    if (due < away.from || due >= away.to) return false;
    const newest = this.startMs + due;
    const oldest = newest - this.intervalMs - this.options.maxDelay - 1;
    return newest >= receipt.from - this.options.maxBackfill - CLOCK_SLACK_MS && oldest < receipt.to - this.options.maxBackfill;
  }

  /** Messages device d sends in the run: those due before the duration ends. */
  messagesOf(d: number): number {
    return Math.max(0, Math.ceil((this.options.duration - this.phase[d]!) / this.intervalMs));
  }

  /** Message k of device d. */
  message(d: number, k: number): PlannedMessage {
    const o = this.options;
    const rng = xoroshiro128plus(murmur3(`${d}:${k}`, o.seed));
    const n = o.batch;
    const metric = new Uint8Array(n);
    const time = new Float64Array(n);
    const value = new Float64Array(n);
    const due = this.startMs + this.sendOffset(d, k);
    const step = this.intervalMs / n;
    for (let j = 0; j < n; j++) {
      const m = (k * n + j) % o.metrics;
      metric[j] = m;
      let t = Math.floor(due - (n - 1 - j) * step);
      if (o.disorder > 0 && uniformFloat64(rng) < o.disorder) t -= 1 + Math.floor(uniformFloat64(rng) * o.maxDelay);
      time[j] = t;
      // A smooth signal per (device, metric) plus noise, to 2 decimals like a real sensor.
      value[j] = Math.round(100 * (20 + 10 * m + 5 * Math.sin((t + d * 997) / 60_000) + (uniformFloat64(rng) - 0.5))) / 100;
    }
    const duplicate = o.duplicates > 0 && uniformFloat64(rng) < o.duplicates;
    const broken = o.malformed > 0 && uniformFloat64(rng) < o.malformed;
    const malformed = broken ? MALFORMED_KINDS[Math.floor(uniformFloat64(rng) * MALFORMED_KINDS.length)] : undefined;
    return { device: d, k, seq: this.seqBase + k + 1, metric, time, value, duplicate, malformed };
  }
}
