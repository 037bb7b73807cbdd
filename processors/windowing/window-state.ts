import { ByteReader, ByteWriter } from '../state/bytes.js';
import { WindowAccumulator } from './accumulator.js';
import type { TimeWindow } from './assigners.js';

/**
 * Keyed window state of a WindowOperator and its snapshot codec.
 *
 * Size per key (device, metric, tags) and live window, measured with the default tumbling
 * 10 s window and ten readings of a steady sensor per window (1 M keys, Node 20):
 * ~1.1 KB of heap for a key with one window, ~0.6 KB for each further window; ~200 bytes
 * in a snapshot per window (four string ids for the key, 18 bytes of window header, 89 of
 * accumulator fields, then 8 bytes per raw value while a window has ≤ 16, or per occupied
 * DDSketch bin beyond). A window past 16 readings holds a DDSketch instead of its values:
 * ~0.8 KB of heap more. A key holds at most ceil((size + allowedLateness) / slide) + 1
 * windows (tumbling 10 s, lateness 30 s: up to 5); a session key one per open session.
 * A key whose windows are all purged is dropped.
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

/** Appends a key's windows to a snapshot (the key itself is written by KeyIndex.writeKey). */
export function writeWindows(w: ByteWriter, s: SeriesState): void {
  w.varint(s.windows.length);
  for (const win of s.windows) {
    w.f64(win.start);
    w.f64(win.end);
    w.u8((win.fired ? FIRED : 0) | (win.emitted ? EMITTED : 0) | (win.dirty ? DIRTY : 0));
    const sup = win.supersedes;
    w.varint(sup === undefined ? 0 : sup.length);
    if (sup !== undefined) for (const start of sup) w.f64(start);
    win.acc.writeTo(w);
  }
}

/** Reads a key's windows written by writeWindows into `s`; timers are the caller's to rebuild. */
export function readWindows(r: ByteReader, s: SeriesState): void {
  const n = r.varint();
  if (n === 0) r.fail(`key ${s.device}/${s.metric} has no windows`);
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
}
