import { ByteReader, ByteWriter } from '../state/bytes.js';
import { WindowAccumulator } from './accumulator.js';
import type { TimeWindow } from './assigners.js';

/**
 * Keyed window state of a WindowOperator and its snapshot codec.
 *
 * Size per key (device, metric, tags) and live window, measured with the default
 * tumbling 10 s window and ten readings of a steady sensor per window: about 1 KB of
 * heap (the DDSketch and its bin array are most of it) and ~0.3 KB in a snapshot (four
 * strings, 18 bytes of window header, 89 of accumulator fields, the sketch's occupied
 * bins at 8 bytes each). A key holds ceil((size + allowedLateness) / slide) + 1 windows
 * at most (a tumbling 10 s window with 30 s lateness: up to 5, usually 4), sessions
 * one per open session. A key whose windows are all purged is dropped.
 */

/** One key: the strings that become the point's tags, and its windows sorted by start. */
export class SeriesState {
  readonly windows: WindowState[] = [];
  /** Where KeyIndex files it. */
  deviceKey = -1;
  readingKey = -1;

  constructor(
    /** Creation order; ties in fired output are broken by it, and a restore keeps the order. */
    readonly ordinal: number,
    readonly device: string,
    readonly metric: string,
    readonly deviceTags: string,
    readonly readingTags: string,
  ) {}
}

/** One window of one key. start/end move only for sessions (merges and extensions). */
export class WindowState implements TimeWindow {
  readonly acc: WindowAccumulator;
  /** Emitted while its end ≤ watermark, and not extended past the watermark since. */
  fired = false;
  /** A point exists at `start` (so moving or merging it away leaves a stale point to supersede). */
  emitted = false;
  /** Changed since it was last emitted (a late reading within allowedLateness). */
  dirty = false;
  /** Dropped from state; timer entries that still point at it are ignored. */
  purged = false;
  /** In the operator's re-fire list. */
  queued = false;
  /** Time of its one live timer entry (NaN: none): end to fire, end + allowedLateness to purge. */
  timerAt = NaN;
  /** Starts of earlier emitted points this session has absorbed; reported once with the next emit. */
  supersedes: number[] | undefined = undefined;

  constructor(
    readonly series: SeriesState,
    public start: number,
    public end: number,
    acc?: WindowAccumulator,
  ) {
    this.acc = acc ?? new WindowAccumulator();
  }
}

const FIRED = 1;
const EMITTED = 2;
const DIRTY = 4;

/** Appends one key and its windows to a snapshot. */
export function writeSeries(w: ByteWriter, s: SeriesState): void {
  w.string(s.device);
  w.string(s.metric);
  w.string(s.deviceTags);
  w.string(s.readingTags);
  w.varint(s.windows.length);
  for (const win of s.windows) {
    w.f64(win.start);
    w.f64(win.end);
    w.u8((win.fired ? FIRED : 0) | (win.emitted ? EMITTED : 0) | (win.dirty ? DIRTY : 0));
    const sup = win.supersedes ?? [];
    w.varint(sup.length);
    for (const start of sup) w.f64(start);
    win.acc.writeTo(w);
  }
}

/** Reads one key written by writeSeries; `makeSeries` files it (KeyIndex.restore). Timers are the caller's to rebuild. */
export function readSeries(r: ByteReader, makeSeries: (device: string, metric: string, deviceTags: string, readingTags: string) => SeriesState): SeriesState {
  const device = r.string();
  const metric = r.string();
  const deviceTags = r.string();
  const readingTags = r.string();
  const n = r.varint();
  if (n === 0) r.fail(`key ${device}/${metric} has no windows`);
  const s = makeSeries(device, metric, deviceTags, readingTags);
  for (let i = 0; i < n; i++) {
    const start = r.f64();
    const end = r.f64();
    if (!(end > start) || (i > 0 && !(start > s.windows[i - 1]!.start))) r.fail(`window [${start}, ${end}) out of order`);
    const flags = r.u8();
    const nSup = r.varint();
    const sup: number[] = [];
    for (let k = 0; k < nSup; k++) sup.push(r.f64());
    const win = new WindowState(s, start, end, WindowAccumulator.readFrom(r));
    win.fired = (flags & FIRED) !== 0;
    win.emitted = (flags & EMITTED) !== 0;
    win.dirty = (flags & DIRTY) !== 0;
    win.supersedes = nSup === 0 ? undefined : sup;
    s.windows.push(win);
  }
  return s;
}
