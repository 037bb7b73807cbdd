import type { ByteReader, ByteWriter } from '../state/bytes.js';
import { WindowAccumulator } from './accumulator.js';
import type { TimeWindow } from './assigners.js';
import type { DeviceKeys } from './key-index.js';

/**
 * Keyed window state of a WindowOperator and its snapshot codec.
 *
 * Size per key (device, metric, tags) and live window, measured with the default tumbling
 * 10 s window (1 M keys in one partition, Node 20):
 * - Heap: ~1.1 KB for a key with one window of ten readings, ~0.6 KB for each further
 *   window, ~0.8 KB more for a window past 16 readings (it holds a DDSketch instead of
 *   its values). A key restored from a checkpoint and not used since: ~0.3 KB with its
 *   share of the device's entries and the snapshot bytes it points into (below).
 * - Snapshot: ~7 bytes of string ids for the key, then per window 18 bytes of header and
 *   the accumulator: 17 bytes for a single reading (a slow sensor), else 90 bytes of
 *   fields plus 8 per raw value while it has ≤ 16, or per occupied DDSketch bin beyond.
 *   One reading per key: 48 MiB for 1 M keys (9.6 MB of snappy on disk); ten readings:
 *   195 MiB (25 MB). A delta holds only the keys changed since the checkpoint before it
 *   (each with all its windows), so it is small while few keys change and about as big as
 *   a full snapshot when nearly every key gets a reading in every interval.
 * A key holds at most ceil((size + allowedLateness) / slide) + 1 windows (tumbling 10 s,
 * lateness 30 s: up to 5); a session key one per open session. A key whose windows are
 * all purged is dropped.
 *
 * Snapshot layout of a key's windows: [varint n] then per window [start f64][end f64]
 * [flags u8][varint k][k × superseded start f64][accumulator (WindowAccumulator.writeTo)].
 * A full snapshot has every key; a delta has the keys removed and the keys changed since
 * the previous snapshot, each with its whole window list (window-operator.ts).
 *
 * Restore is lazy, in two steps. A restored key keeps its window list as the snapshot's
 * bytes (checked, not built) and one timer at its earliest window's; its windows are
 * built when the key gets a reading or that timer is due (WindowOperator.build). A built
 * window keeps its accumulator as bytes until first used (a reading, a merge, firing).
 * Snapshots copy the bytes of what was not built or used since. A restored key then
 * costs a few small objects instead of ~20 (a window's float fields are boxed numbers in
 * V8), which is what made a 1 M-key restore GC-bound (11 s; now ~3 s, most of it
 * uncompressing and the key index). A snapshot buffer stays alive until the last key or
 * window that refers to it is built or purged (default window: ~40 s of event time).
 */

/** The window list of a key not built yet (frozen: a missed build throws rather than sharing windows). */
export const NO_WINDOWS: WindowState[] = Object.freeze([]) as unknown as WindowState[];

/** One key: the strings that become the point's tags, and its windows sorted by start. */
export class SeriesState {
  /** NO_WINDOWS until the key is built (KeyIndex sets [] for a new key); building replaces it with an exactly sized list. */
  windows: WindowState[] = NO_WINDOWS;
  /** Where KeyIndex files it: its (device, device tags) entry, and its (metric, tags) key in there. */
  deviceKeys: DeviceKeys | undefined = undefined;
  readingKey = -1;
  /** Neighbours in KeyIndex's first-seen order. */
  prev: SeriesState | undefined = undefined;
  next: SeriesState | undefined = undefined;
  /** In the state of the last snapshot (full or delta): a delta must say when it goes. */
  persisted = false;
  /** Changed since the last snapshot (then it is in the operator's changed list). */
  changed = false;
  /** A restored key whose windows are not built yet: bytes [lazyFrom, lazyTo) of this snapshot hold them (`windows` is empty). */
  lazyBytes: ByteReader | undefined = undefined;
  lazyFrom = 0;
  lazyTo = 0;

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
  private accumulator: WindowAccumulator | undefined;
  /** A restored window's accumulator, still as bytes [accFrom, accTo) of a snapshot (undefined once decoded). */
  private accBytes: ByteReader | undefined = undefined;
  private accFrom = 0;
  private accTo = 0;

  constructor(
    readonly series: SeriesState,
    public start: number,
    public end: number,
    acc?: WindowAccumulator,
  ) {
    this.accumulator = acc;
  }

  /** The window's aggregates (decoded on first use after a restore). */
  get acc(): WindowAccumulator {
    return this.accumulator ?? this.materialize();
  }

  private materialize(): WindowAccumulator {
    const r = this.accBytes;
    let acc: WindowAccumulator;
    if (r === undefined) {
      acc = new WindowAccumulator();
    } else {
      r.at = this.accFrom;
      acc = WindowAccumulator.readFrom(r);
      this.accBytes = undefined;
    }
    this.accumulator = acc;
    return acc;
  }

  /** Appends the accumulator: its snapshot bytes as they were if it was not used since the restore. */
  writeAcc(w: ByteWriter): void {
    if (this.accBytes !== undefined) w.copyFrom(this.accBytes, this.accFrom, this.accTo);
    else this.acc.writeTo(w);
  }

  /** Points the accumulator at snapshot bytes, decoded on first use. */
  restoreAcc(r: ByteReader, from: number, to: number): void {
    this.accumulator = undefined;
    this.accBytes = r;
    this.accFrom = from;
    this.accTo = to;
  }
}

const FIRED = 1;
const EMITTED = 2;
const DIRTY = 4;

/** Appends a key's windows to a snapshot (the key itself is written by KeyIndex). */
export function writeWindows(w: ByteWriter, s: SeriesState): void {
  if (s.lazyBytes !== undefined) return w.copyFrom(s.lazyBytes, s.lazyFrom, s.lazyTo);
  w.varint(s.windows.length);
  for (const win of s.windows) {
    w.f64(win.start);
    w.f64(win.end);
    w.u8((win.fired ? FIRED : 0) | (win.emitted ? EMITTED : 0) | (win.dirty ? DIRTY : 0));
    const sup = win.supersedes;
    if (sup === undefined) {
      w.u8(0);
    } else {
      w.varint(sup.length);
      for (const start of sup) w.f64(start);
    }
    win.writeAcc(w);
  }
}

/** What scanWindows found; one object serves a whole restore. */
export interface WindowScan {
  windows: number;
  /** The earliest window timer: end, or end + allowedLateness once fired. */
  firstTimer: number;
  /** A window was fired and then updated: the next watermark must re-fire it. */
  refire: boolean;
}

/**
 * Checks a key's windows written by writeWindows without building anything, and fills
 * `scan`; `r` is left after them. What a restore does for every key (see the top).
 */
export function scanWindows(r: ByteReader, s: SeriesState, lateness: number, scan: WindowScan): void {
  const n = r.varint();
  if (n === 0) r.fail(`key ${s.device}/${s.metric} has no windows`);
  let previous = -Infinity;
  let first = Infinity;
  let refire = false;
  for (let i = 0; i < n; i++) {
    const start = r.f64();
    const end = r.f64();
    if (!(end > start) || !(start > previous)) r.fail(`window [${start}, ${end}) out of order`);
    previous = start;
    const flags = r.u8();
    r.skip(8 * r.varint());
    WindowAccumulator.skip(r);
    const fired = (flags & FIRED) !== 0;
    const at = fired ? end + lateness : end;
    if (at < first) first = at;
    if (fired && (flags & DIRTY) !== 0) refire = true;
  }
  scan.windows = n;
  scan.firstTimer = first;
  scan.refire = refire;
}

/**
 * Reads a key's windows written by writeWindows into `s` (whose window list is empty).
 * Accumulators are checked and left as bytes of `r` (decoded on first use); timers are
 * the caller's to rebuild.
 */
export function readWindows(r: ByteReader, s: SeriesState): void {
  const n = r.varint();
  if (n === 0) r.fail(`key ${s.device}/${s.metric} has no windows`);
  SCRATCH.length = 0;
  let previous = -Infinity;
  for (let i = 0; i < n; i++) {
    const start = r.f64();
    const end = r.f64();
    if (!(end > start) || !(start > previous)) r.fail(`window [${start}, ${end}) out of order`);
    previous = start;
    const flags = r.u8();
    const nSup = r.varint();
    const win = new WindowState(s, start, end);
    if (nSup > 0) {
      const sup: number[] = [];
      for (let k = 0; k < nSup; k++) sup.push(r.f64());
      win.supersedes = sup;
    }
    const from = r.at;
    WindowAccumulator.skip(r);
    win.restoreAcc(r, from, r.at);
    win.fired = (flags & FIRED) !== 0;
    win.emitted = (flags & EMITTED) !== 0;
    win.dirty = (flags & DIRTY) !== 0;
    SCRATCH.push(win);
  }
  // slice() sizes the array exactly; pushing into [] reserves 17 slots (150 bytes a key at 1 M keys).
  s.windows = SCRATCH.slice();
  SCRATCH.length = 0;
}

const SCRATCH: WindowState[] = [];
