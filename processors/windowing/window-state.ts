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
 * Sliding windows in panes (WindowOperator): a key's windows hold no accumulator (~0.1 KB
 * of heap each, 18 bytes of snapshot), and its panes of gcd(size, slide) ms hold one each;
 * a pane lives until the latest window holding it is purged, so a key holds about as many
 * panes as windows, each with 1/(size/pane) of a window's readings. Measured, 2 000
 * devices × 5 metrics, 20 readings a message, narrow values, sliding 1 m / 10 s, lateness
 * 30 s: with every reading in one pane (the fleet's 15-second benchmark) 2.7 KiB of heap
 * and 330 snapshot bytes a key, was 6.8 KiB and 1 306 bytes with an accumulator per
 * window; with 100 s of event time (10 windows and 10 panes a key) 10.9 KiB and 2 247
 * bytes, was 11.0 KiB and 2 166.
 *
 * Snapshot layout of a key's windows: [varint n] then per window [start f64][end f64]
 * [flags u8][varint k][k × superseded start f64][accumulator (WindowAccumulator.writeTo),
 * absent when the window is pane-backed (flag 8)]; in the pane layout (a sliding operator
 * with panes, operator-snapshot.ts) then [varint m] and per pane [start f64][accumulator].
 * A full snapshot has every key; a delta has the keys removed and the keys changed since
 * the previous snapshot, each with its whole window list (window-operator.ts).
 *
 * Restore is lazy, in two steps. A restored key keeps its window list as the snapshot's
 * bytes (checked, not built) and one timer at its earliest window's; its windows are
 * built when the key gets a reading or that timer is due (WindowOperator.build). A built
 * window or pane keeps its accumulator as bytes until first used (a reading, a merge, firing).
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
  /** Sliding windows in panes (WindowOperator): the key's panes sorted by start, undefined while it has none. */
  panes: Panes | undefined = undefined;
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
  /** Whether those bytes end with a pane list (a snapshot in the pane layout), or are windows only. */
  lazyPanes = false;

  constructor(
    /** Creation order; ties in fired output are broken by it, and a restore keeps the order. */
    readonly ordinal: number,
    readonly device: string,
    readonly metric: string,
    readonly deviceTags: string,
    readonly readingTags: string,
  ) {}
}

/** A restored accumulator not decoded yet: bytes [from, to) of a snapshot (see the top). */
export class LazyAcc {
  constructor(
    readonly r: ByteReader,
    readonly from: number,
    readonly to: number,
  ) {}

  decode(): WindowAccumulator {
    this.r.at = this.from;
    return WindowAccumulator.readFrom(this.r);
  }
}

/** An accumulator, or its snapshot bytes until first used. */
export type AccSlot = WindowAccumulator | LazyAcc;

/** Appends an accumulator: its snapshot bytes as they were if it was not used since the restore. */
function writeSlot(w: ByteWriter, slot: AccSlot): void {
  if (slot instanceof LazyAcc) w.copyFrom(slot.r, slot.from, slot.to);
  else slot.writeTo(w);
}

// WindowState.flags
const FIRED = 1;
const EMITTED = 2;
const DIRTY = 4;
/** Its aggregates are its key's panes: no accumulator of its own (also the snapshot flag). */
const PANE_BACKED = 8;
const PURGED = 16;
const QUEUED = 32;
/** Its accumulator is a pane of the sliding operator it shares panes with, which adds the readings (WindowOperator.lendPane). */
const SHARED = 64;
/** It shared a pane until the pane took a reading it does not take, in the batch being processed: that batch's readings are in its copy. */
const UNSHARED_NOW = 128;

/**
 * One window of one key. start/end move only for sessions (merges and extensions).
 * A window either has its own aggregates (`acc`: tumbling and session windows, sliding
 * windows restored from a snapshot without panes, and frozen ones: see WindowOperator) or
 * is the merge of its key's panes in [start, end) when it is emitted (`ownAcc` false).
 * Its six booleans share one small integer: a key of the fleet's sliding window keeps up
 * to ten windows, and each boolean field costs 8 bytes.
 */
export class WindowState implements TimeWindow {
  private flags = 0;
  /** Time of its one live timer entry (NaN: none): end to fire, end + allowedLateness to purge. */
  timerAt = NaN;
  /** Starts of earlier emitted points this session has absorbed; reported once with the next emit. */
  supersedes: number[] | undefined = undefined;
  /** Its own accumulator (undefined for a pane-backed window, or a window not used yet). */
  private slot: AccSlot | undefined = undefined;

  constructor(
    readonly series: SeriesState,
    public start: number,
    public end: number,
    /** False: its aggregates are its key's panes in [start, end), merged when it is emitted. */
    ownAcc = true,
  ) {
    if (!ownAcc) this.flags = PANE_BACKED;
  }

  /** Emitted while its end ≤ watermark, and not extended past the watermark since. */
  get fired(): boolean {
    return (this.flags & FIRED) !== 0;
  }
  set fired(v: boolean) {
    this.flags = v ? this.flags | FIRED : this.flags & ~FIRED;
  }

  /** A point exists at `start` (so moving or merging it away leaves a stale point to supersede). */
  get emitted(): boolean {
    return (this.flags & EMITTED) !== 0;
  }
  set emitted(v: boolean) {
    this.flags = v ? this.flags | EMITTED : this.flags & ~EMITTED;
  }

  /** Changed since it was last emitted (a late reading within allowedLateness). */
  get dirty(): boolean {
    return (this.flags & DIRTY) !== 0;
  }
  set dirty(v: boolean) {
    this.flags = v ? this.flags | DIRTY : this.flags & ~DIRTY;
  }

  /** Dropped from state; timer entries that still point at it are ignored. */
  get purged(): boolean {
    return (this.flags & PURGED) !== 0;
  }
  set purged(v: boolean) {
    this.flags = v ? this.flags | PURGED : this.flags & ~PURGED;
  }

  /** In the operator's re-fire list. */
  get queued(): boolean {
    return (this.flags & QUEUED) !== 0;
  }
  set queued(v: boolean) {
    this.flags = v ? this.flags | QUEUED : this.flags & ~QUEUED;
  }

  /** Has aggregates of its own (else they are its key's panes). */
  get ownAcc(): boolean {
    return (this.flags & PANE_BACKED) === 0;
  }

  /** The window's own aggregates (decoded on first use after a restore); not for a pane-backed window. */
  get acc(): WindowAccumulator {
    const slot = this.slot;
    if (slot instanceof WindowAccumulator) return slot;
    return (this.slot = slot === undefined ? new WindowAccumulator() : slot.decode());
  }

  /** The window is purged: its accumulator's sketch goes to the next one that needs one (WindowAccumulator.release), unless a pane still uses it. */
  release(): void {
    const slot = this.slot;
    if ((this.flags & SHARED) !== 0) (slot as WindowAccumulator).sharedWith = undefined;
    else if (slot instanceof WindowAccumulator) slot.release();
    this.slot = undefined;
    this.flags &= ~SHARED;
  }

  /** Whether it takes no readings itself in this batch: its accumulator is a pane that already took them, or a copy of one made in this batch. */
  get sharesPane(): boolean {
    return (this.flags & (SHARED | UNSHARED_NOW)) !== 0;
  }

  /** Takes a sliding operator's pane as its accumulator (a new window, before it has any readings of its own). */
  share(pane: WindowAccumulator): void {
    this.slot = pane;
    pane.sharedWith = this;
    this.flags |= SHARED;
  }

  /** The pane it shares is about to take a reading this window does not take: it keeps a copy of what it has. */
  keepCopy(): void {
    const pane = this.slot as WindowAccumulator;
    pane.sharedWith = undefined;
    this.slot = pane.copy();
    this.flags = (this.flags & ~SHARED) | UNSHARED_NOW;
  }

  /** The pane it shares is dropped: the accumulator is its own from now on. */
  keepPane(): void {
    (this.slot as WindowAccumulator).sharedWith = undefined;
    this.flags &= ~SHARED;
  }

  /** The batch in which keepCopy() ran is done. */
  endUnsharedNow(): void {
    this.flags &= ~UNSHARED_NOW;
  }

  /** Gives a pane-backed window aggregates of its own (the merge of its panes as they are now): it takes no readings after this. */
  freeze(acc: WindowAccumulator): void {
    this.slot = acc;
    this.flags &= ~PANE_BACKED;
  }

  /** Snapshot flags: fired, emitted, dirty, pane-backed. */
  get snapshotFlags(): number {
    return this.flags & (FIRED | EMITTED | DIRTY | PANE_BACKED);
  }

  /** Sets what a snapshot's flags say (a window just read, not armed). */
  set snapshotFlags(flags: number) {
    this.flags = flags & (FIRED | EMITTED | DIRTY | PANE_BACKED);
  }

  /** Appends its own accumulator: its snapshot bytes as they were if it was not used since the restore. */
  writeAcc(w: ByteWriter): void {
    writeSlot(w, this.slot ?? this.acc);
  }

  /** Points its own accumulator at snapshot bytes, decoded on first use. */
  restoreAcc(r: ByteReader, from: number, to: number): void {
    this.slot = new LazyAcc(r, from, to);
  }
}

/**
 * A key's panes for sliding windows (WindowOperator): pane i holds the readings in
 * [starts[i], starts[i] + pane length), sorted by start. Two parallel arrays rather than an
 * object per pane: starts are unboxed doubles there (8 bytes a pane instead of ~90).
 */
export class Panes {
  constructor(
    readonly starts: number[] = [],
    readonly accs: AccSlot[] = [],
  ) {}

  get length(): number {
    return this.starts.length;
  }

  /** Pane i's accumulator (decoded on first use after a restore). */
  acc(i: number): WindowAccumulator {
    const slot = this.accs[i]!;
    if (slot instanceof WindowAccumulator) return slot;
    return (this.accs[i] = slot.decode());
  }

  /** The accumulator of the pane starting at `start`, created when missing with `shareableIn` (in-order data hits the newest pane first). */
  at(start: number, shareableIn = -1): WindowAccumulator {
    const starts = this.starts;
    let k = starts.length - 1;
    while (k >= 0 && starts[k]! > start) k--;
    if (k >= 0 && starts[k] === start) return this.acc(k);
    const acc = new WindowAccumulator();
    acc.shareableIn = shareableIn;
    starts.splice(k + 1, 0, start);
    this.accs.splice(k + 1, 0, acc);
    return acc;
  }

  /** Drops the panes starting before `bound` (their sketches go on: WindowAccumulator.release); returns how many are left. */
  dropBefore(bound: number): number {
    const starts = this.starts;
    let n = 0;
    while (n < starts.length && starts[n]! < bound) n++;
    this.release(0, n);
    if (n > 0) {
      starts.splice(0, n);
      this.accs.splice(0, n);
    }
    return starts.length;
  }

  /** The live accumulator of the pane starting at `start`, if there is one (not one still in snapshot bytes). */
  live(start: number): WindowAccumulator | undefined {
    const starts = this.starts;
    let k = starts.length - 1;
    while (k >= 0 && starts[k]! > start) k--;
    const slot = k >= 0 && starts[k] === start ? this.accs[k] : undefined;
    return slot instanceof WindowAccumulator ? slot : undefined;
  }

  /**
   * Releases the accumulators of panes [from, to) that are live (WindowAccumulator.release):
   * for panes nothing reads again. One a tumbling window shares becomes that window's own.
   */
  release(from = 0, to = this.accs.length): void {
    for (let i = from; i < to; i++) {
      const slot = this.accs[i];
      if (!(slot instanceof WindowAccumulator)) continue;
      if (slot.sharedWith !== undefined) slot.sharedWith.keepPane();
      else slot.release();
    }
  }
}

/**
 * Appends a key's windows to a snapshot (the key itself is written by KeyIndex), then,
 * with `panes` (the pane layout of a sliding operator), its pane list.
 */
export function writeWindows(w: ByteWriter, s: SeriesState, panes: boolean): void {
  if (s.lazyBytes !== undefined) {
    w.copyFrom(s.lazyBytes, s.lazyFrom, s.lazyTo);
    if (panes && !s.lazyPanes) w.varint(0); // restored from windows only: no panes yet
    return;
  }
  w.varint(s.windows.length);
  for (const win of s.windows) {
    w.f64(win.start);
    w.f64(win.end);
    w.u8(win.snapshotFlags);
    const sup = win.supersedes;
    if (sup === undefined) {
      w.u8(0);
    } else {
      w.varint(sup.length);
      for (const start of sup) w.f64(start);
    }
    if (win.ownAcc) win.writeAcc(w);
  }
  if (!panes) return;
  const list = s.panes;
  if (list === undefined) return w.u8(0);
  w.varint(list.length);
  for (let i = 0; i < list.length; i++) {
    w.f64(list.starts[i]!);
    writeSlot(w, list.accs[i]!);
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
 * Checks a key's windows written by writeWindows (`panes`: and its pane list) without
 * building anything, and fills `scan`; `r` is left after them. What a restore does for
 * every key (see the top).
 */
export function scanWindows(r: ByteReader, s: SeriesState, lateness: number, scan: WindowScan, panes: boolean): void {
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
    if ((flags & PANE_BACKED) !== 0 && !panes) r.fail(`window [${start}, ${end}) is pane-backed in a snapshot without panes`);
    r.skip(8 * r.varint());
    if ((flags & PANE_BACKED) === 0) WindowAccumulator.skip(r);
    const fired = (flags & FIRED) !== 0;
    const at = fired ? end + lateness : end;
    if (at < first) first = at;
    if (fired && (flags & DIRTY) !== 0) refire = true;
  }
  if (panes) {
    const k = r.varint();
    previous = -Infinity;
    for (let i = 0; i < k; i++) {
      const start = r.f64();
      if (!(start > previous)) r.fail(`pane at ${start} out of order`);
      previous = start;
      WindowAccumulator.skip(r);
    }
  }
  scan.windows = n;
  scan.firstTimer = first;
  scan.refire = refire;
}

/**
 * Reads a key's windows written by writeWindows (`panes`: and its pane list) into `s`
 * (whose window list is empty). Accumulators are checked and left as bytes of `r`
 * (decoded on first use); timers are the caller's to rebuild.
 */
export function readWindows(r: ByteReader, s: SeriesState, panes: boolean): void {
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
    const own = (flags & PANE_BACKED) === 0;
    if (!own && !panes) r.fail(`window [${start}, ${end}) is pane-backed in a snapshot without panes`);
    const win = new WindowState(s, start, end, own);
    if (nSup > 0) {
      const sup: number[] = [];
      for (let k = 0; k < nSup; k++) sup.push(r.f64());
      win.supersedes = sup;
    }
    if (own) {
      const from = r.at;
      WindowAccumulator.skip(r);
      win.restoreAcc(r, from, r.at);
    }
    win.snapshotFlags = flags;
    SCRATCH.push(win);
  }
  // slice() sizes the array exactly; pushing into [] reserves 17 slots (150 bytes a key at 1 M keys).
  s.windows = SCRATCH.slice();
  SCRATCH.length = 0;
  if (!panes) return;
  const k = r.varint();
  if (k === 0) return;
  const starts: number[] = [];
  const accs: AccSlot[] = [];
  previous = -Infinity;
  for (let i = 0; i < k; i++) {
    const start = r.f64();
    if (!(start > previous)) r.fail(`pane at ${start} out of order`);
    previous = start;
    const from = r.at;
    WindowAccumulator.skip(r);
    starts.push(start);
    accs.push(new LazyAcc(r, from, r.at));
  }
  s.panes = new Panes(starts, accs);
}

const SCRATCH: WindowState[] = [];
