import { MSG_FLAG_DROPPED, type ColumnarBatch } from '../../proto/index.js';
import { StateMismatchError } from '../errors.js';
import { ByteReader, ByteWriter } from '../state/bytes.js';
import { WindowAccumulator, type AggregateResult } from './accumulator.js';
import type { SketchKeyMemo } from './quantile-sketch.js';
import { paneLength, SessionWindows, SlidingWindows, windowStart } from './assigners.js';
import type { FiredWindow, LateReading, WindowOperatorStats } from './fired-window.js';
import type { DeviceClock, DeviceClocks } from '../time/device-clocks.js';
import { readHeader, writeHeader, type SnapshotLayout } from './operator-snapshot.js';
import { EventTimeTrigger } from './triggers.js';
import { KeyIndex, KeyTable, type DeviceKeys } from './key-index.js';
import { Panes, readWindows, scanWindows, WindowState, writeWindows, type SeriesState, type WindowScan } from './window-state.js';
import type { TimeConfig, WindowSpec } from './window-spec.js';

export type { FiredWindow, LateReading, WindowOperatorStats } from './fired-window.js';

/** The Date range: times beyond it are refused, which keeps every window bound an exact integer. */
const MAX_EVENT_TIME = 8.64e15;

/**
 * Event-time windows of ONE window spec over ONE partition (Flink: WindowOperator).
 * Per batch: processBatch(); then onWatermark(wm) returns the windows to write.
 * - A window fires once its end ≤ watermark. It stays in state until end +
 *   allowedLateness ≤ watermark; a late reading before that updates it and the next
 *   onWatermark re-fires it with the corrected aggregate (same point, so InfluxDB
 *   overwrites it). Later readings go to drainLate().
 * - Lateness is judged against the watermark of the last onWatermark call, so a task
 *   calls onWatermark after each batch (the same on replay: deterministic).
 * - Snapshots hold windows, watermark and counters, not undrained late readings: drain
 *   and write those before taking a checkpoint. snapshot() is full; snapshotDelta() holds
 *   only what changed since the previous snapshot of either kind: the keys removed, and
 *   every key whose windows changed (a reading, a merge, a fire, a purge) with its whole
 *   window list. restore(full, deltas) applies them in order.
 * Sliding windows are kept in panes (stream slicing: Flink's sliding-window panes,
 * Scotty's slices): one accumulator per (key, pane) of gcd(size, slide) ms, so a reading
 * updates one pane instead of size/slide windows' accumulators. A window keeps only its
 * trigger state (fired, emitted, dirty, timer) and, when it is emitted (fired or
 * re-fired), its aggregate is the merge of its size/pane panes (WindowAccumulator.merge:
 * counts, min, max, first, last and sketch bins exactly as if it had taken the readings
 * itself; sum, mean and stddev up to the rounding of the merge). Everything else follows
 * the per-window rules above, window by window:
 * - A reading is added to its pane when at least one window holding it is not past
 *   end + allowedLateness, and every such window gets the trigger update it would get
 *   (a fired one re-fires with the corrected merge); otherwise it is late, as before.
 * - A window past end + allowedLateness takes no more readings, but its panes still
 *   do (for the later windows that share them). So that such a window still to be
 *   emitted (not fired yet, or dirty) is emitted with exactly the readings it took, it
 *   is frozen first: it gets its own accumulator, the merge of its panes just before the
 *   reading. That is rare (a window closed by a message of the same batch).
 * - A pane is dropped when the latest window holding it is purged: every earlier window
 *   holding it ends earlier and was purged before (a key's purges come in end order).
 * - Snapshots carry the panes (window-state.ts); a snapshot without them (format 3, or
 *   `panes: false`) restores as windows with their own aggregates, which keep taking
 *   their readings directly while new windows use panes (see restore()).
 * `panes: false` keeps the per-window path for sliding windows (every window its own
 * accumulator): the reference the pane path is tested against.
 * State size per key: see window-state.ts.
 */
export class WindowOperator {
  readonly stats: WindowOperatorStats = { readings: 0, late: 0, invalid: 0, fired: 0, refired: 0 };
  private readonly keys = new KeyIndex();
  private readonly trigger: EventTimeTrigger;
  private late: LateReading[] = [];
  private emptied: SeriesState[] = [];
  /** Keys changed since the last snapshot (SeriesState.changed), and keys of that snapshot removed since. */
  private changed: SeriesState[] = [];
  private removed: SeriesState[] = [];
  /** Snapshot bytes per key, as last measured (sizes the next snapshot's buffer). */
  private bytesPerKey = 96;
  private wm = -Infinity;
  private windowCount = 0;
  private frozen = 0;
  private readonly lateness: number;
  // Tumbling is sliding with slide = size: one loop serves both.
  private readonly size: number;
  private readonly slide: number;
  private readonly sessions: SessionWindows | undefined;
  /** Sliding windows in panes: the pane length (gcd(size, slide)); 0 without panes. */
  private readonly pane: number;
  /** The layout snapshots are written in. */
  private readonly layout: SnapshotLayout;
  private readonly onPurge = (win: WindowState): void => this.purge(win);
  private readonly onBuild = (s: SeriesState): void => this.build(s);
  /** With device clocks: windows whose device's clock has not reached their timer yet, by device. */
  private readonly parked = new Map<DeviceClock, WindowState[]>();
  private readonly maxBackfill: number;
  /** processBatch's keyMemo while it runs. */
  private keyMemo: SketchKeyMemo | undefined = undefined;
  /** A sliding operator: the tumbling operator whose windows share its panes (sharePanesOf). */
  private sharer: WindowOperator | undefined = undefined;
  /** A tumbling operator: the sliding operator whose panes its windows share. */
  private paneOwner: WindowOperator | undefined = undefined;
  /** Batches processed: a pane made in this one may be shared (WindowAccumulator.shareableIn). */
  private batchNo = 0;
  /** The sharer's windows that stopped sharing a pane in this batch (WindowState.keepCopy). */
  private unsharedNow: WindowState[] = [];

  /**
   * With `clocks` (a partition task's DeviceClocks), event time is per device: a reading is
   * late against its own device's watermark, and a window fires once its device's
   * watermark passes it or the device went idle (onWatermark's argument is then only how
   * far to look). Without, the watermark given to onWatermark decides for every device.
   */
  constructor(
    readonly spec: WindowSpec,
    time: Pick<TimeConfig, 'allowedLateness'> & Partial<Pick<TimeConfig, 'maxBackfill'>>,
    private readonly clocks?: DeviceClocks,
    options: WindowOperatorOptions = {},
  ) {
    this.lateness = time.allowedLateness;
    this.maxBackfill = time.maxBackfill ?? Infinity;
    if (spec.type === 'session') {
      this.sessions = new SessionWindows(spec.gap);
      this.size = this.slide = 0;
    } else {
      const sliding = new SlidingWindows(spec.size, spec.type === 'sliding' ? spec.slide : spec.size);
      this.size = sliding.size;
      this.slide = sliding.slide;
    }
    this.pane = spec.type === 'sliding' && this.slide < this.size && options.panes !== false ? paneLength(this.size, this.slide) : 0;
    this.layout = { panes: this.pane > 0 };
    this.trigger = new EventTimeTrigger(this.lateness, this.stats, this.pane > 0 ? this.paneResult : ownResult, clocks === undefined ? undefined : this.gate);
  }

  /**
   * Lets this tumbling operator's windows share the panes of `owner`, a sliding operator
   * whose pane length is this window's size, instead of adding every reading a second
   * time; false (nothing changes) when they cannot. The owner must process each batch
   * before this operator (PartitionTask does). A tumbling window takes a pane as its
   * accumulator when the pane was made in the batch that makes the window and took only
   * readings the window takes too: then the two hold the same readings in the same order.
   * They go on doing so, since every reading the window takes the pane takes too (the
   * latest sliding window holding the pane ends after the tumbling window). Before the
   * pane takes a reading the window does not take (past its end + allowedLateness, but
   * not the pane's), the window gets an exact copy of the pane. Snapshots are unchanged:
   * each operator writes its windows' aggregates, and a restore shares nothing.
   */
  sharePanesOf(owner: WindowOperator): boolean {
    if (this.spec.type !== 'tumbling' || owner.pane === 0 || owner.pane !== this.size || owner.sharer !== undefined || this.paneOwner !== undefined || owner.lateness !== this.lateness) return false;
    owner.sharer = this;
    this.paneOwner = owner;
    return true;
  }

  /** The owner's side of sharePanesOf(): gives a new tumbling window its key's pane at its start, if that pane may be shared. */
  private lendPane(win: WindowState): void {
    const s = win.series;
    const pane = this.keys.find(s.device, s.deviceTags, s.metric, s.readingTags)?.panes?.live(win.start);
    if (pane !== undefined && pane.shareableIn === this.batchNo && pane.sharedWith === undefined) {
      win.share(pane);
      this.sharer!.paneSharing.shared++;
    }
  }

  /** The owner's side: `pane` is about to take a run its tumbling window does not take. */
  private unshare(pane: WindowAccumulator): void {
    pane.shareableIn = -1;
    const win = pane.sharedWith;
    if (win === undefined) return;
    win.keepCopy();
    this.unsharedNow.push(win);
    this.sharer!.paneSharing.copied++;
  }

  /** A window's aggregate: its own, or the merge of its key's panes in [start, end) (in pane order: first/last ties cannot span panes). */
  private readonly paneResult = (win: WindowState): AggregateResult => {
    if (win.ownAcc) return win.acc.result();
    const scratch = this.scratch;
    scratch.clear();
    return this.mergePanes(win, scratch).result();
  };

  /** Where paneResult() merges (its sketch is reused: no allocation per window emitted but the result). */
  private readonly scratch = new WindowAccumulator();

  private mergePanes(win: WindowState, acc: WindowAccumulator): WindowAccumulator {
    const panes = win.series.panes;
    if (panes !== undefined) {
      const starts = panes.starts;
      for (let i = 0; i < starts.length; i++) {
        const start = starts[i]!;
        if (start >= win.end) break;
        if (start >= win.start) acc.merge(panes.acc(i));
      }
    }
    return acc;
  }

  private readonly gate = (win: WindowState, at: number, purge: boolean): boolean => {
    const c = this.clockOf(win.series);
    if (at <= this.clocks!.watermark(c) || (!purge && c.idle)) return true;
    let list = this.parked.get(c);
    if (list === undefined) this.parked.set(c, (list = []));
    list.push(win);
    return false;
  };

  private clockOf(s: SeriesState): DeviceClock {
    const dk = s.deviceKeys!;
    return (dk.clock ??= this.clocks!.get(s.device));
  }

  /** Hands back to the trigger the windows kept for these devices (their clocks moved): the next onWatermark decides again. */
  wake(moved: readonly DeviceClock[]): void {
    if (this.parked.size === 0) return;
    for (const c of moved) {
      const list = this.parked.get(c);
      if (list === undefined) continue;
      this.parked.delete(c);
      for (const win of list) this.trigger.rearm(win);
    }
  }

  /** The last watermark given to onWatermark (−Infinity before any). */
  get watermark(): number {
    return this.wm;
  }

  /** Tumbling windows that took a pane (shared) and that were given a copy of it (copied), since this operator was created or restored (sharePanesOf); for tests. */
  readonly paneSharing = { shared: 0, copied: 0 };

  /** Pane-backed windows given their own accumulator since this operator was created or restored (see the class comment); for tests. */
  get frozenWindows(): number {
    return this.frozen;
  }

  /** Keys and windows held. */
  get stateSize(): { keys: number; windows: number } {
    return { keys: this.keys.size, windows: this.windowCount };
  }

  /**
   * Aggregates a batch's numeric readings. `acceptMessage(i)` is the caller's dedup
   * decision for message i (e.g. from SeqDeduplicator.acceptBatch); it must not have side
   * effects: it is not called for messages flagged dropped or without numeric readings.
   * `deviceWatermarks[m]`, with device clocks, is message m's device watermark as it was
   * just before message m (PartitionTask's pre-pass): lateness is then decided per message,
   * whatever micro-batch the gateway put the message in; without it, the clock as it is now.
   * `keyMemo`, reset for this batch by the caller, shares the values' sketch keys with the
   * other operators the batch goes to (a key is a log2; each operator would compute it again).
   */
  processBatch(batch: ColumnarBatch, acceptMessage: (msgIndex: number) => boolean, deviceWatermarks?: Float64Array, keyMemo?: SketchKeyMemo): void {
    const { strings, msgDevice, msgDeviceTags, msgFlags, numEnd, metric, tags, time, value } = batch;
    const index = this.keys;
    const clocks = this.clocks;
    // Readings older than this are late whatever their device's clock says (time.maxBackfill).
    const oldest = clocks === undefined ? -Infinity : batch.receivedAtMs - this.maxBackfill;
    index.beginBatch(strings);
    this.keyMemo = keyMemo;
    this.batchNo++;
    if (this.unsharedNow.length > 0) {
      for (const win of this.unsharedNow) win.endUnsharedNow();
      this.unsharedNow = [];
    }
    let from = 0;
    for (let m = 0; m < msgDevice.length; m++) {
      const to = numEnd[m]!;
      if (to === from || (msgFlags[m]! & MSG_FLAG_DROPPED) !== 0 || !acceptMessage(m)) {
        from = to;
        continue;
      }
      const device = msgDevice[m]!;
      const deviceTags = msgDeviceTags[m]!;
      const dk = index.deviceKeys(device, deviceTags);
      const wm = clocks === undefined ? this.wm : deviceWatermarks !== undefined ? deviceWatermarks[m]! : clocks.watermark((dk.clock ??= clocks.get(strings[device]!)));
      if (clocks !== undefined) dk.clock ??= clocks.get(strings[device]!);
      // Runs of consecutive readings of one key (a Series payload lists one metric's readings together).
      for (let j = from; j < to; ) {
        const m = metric[j]!;
        const tg = tags[j]!;
        let end = j + 1;
        while (end < to && metric[end] === m && tags[end] === tg) end++;
        this.addRun(dk, device, deviceTags, m, tg, time, value, j, end, wm, oldest);
        j = end;
      }
      from = to;
    }
    this.keyMemo = undefined;
    // Keys created only by late readings would otherwise stay forever with no window.
    for (const s of this.emptied) if (s.windows.length === 0) this.removeKey(s);
    this.emptied = [];
  }

  /** Advances the watermark (it never goes back) and returns the windows that fire or re-fire, ordered by end. */
  onWatermark(wm: number): FiredWindow[] {
    if (wm > this.wm) this.wm = wm;
    return this.trigger.advance(this.wm, this.onPurge, this.onBuild).map(({ win, start, end, result, supersedes }) => {
      const s = win.series;
      this.touch(s); // fired, emitted, dirty and supersedes are state
      const fired: FiredWindow = { window: this.spec.name, device: s.device, metric: s.metric, deviceTags: s.deviceTags, readingTags: s.readingTags, start, end, result };
      if (supersedes !== undefined) fired.supersedes = supersedes;
      return fired;
    });
  }

  /** Takes the late readings collected since the last call. */
  drainLate(): LateReading[] {
    const late = this.late;
    this.late = [];
    return late;
  }

  /**
   * Readings [from, to) of the columns, all of one key (string indices of the batch);
   * `wm` is the message's watermark. Each reading is judged as on its own: invalid ones
   * are counted and skipped, and the key is looked up (created) at the first valid one.
   */
  private addRun(dk: DeviceKeys, device: number, deviceTags: number, metric: number, tags: number, time: Float64Array, value: Float64Array, from: number, to: number, wm: number, oldest: number): void {
    let s: SeriesState | undefined;
    let j = from;
    while (j < to) {
      const t = time[j]!;
      const v = value[j]!;
      if (!(Math.abs(t) <= MAX_EVENT_TIME) || v - v !== 0) {
        this.stats.invalid++;
        j++;
        continue;
      }
      if (s === undefined) {
        s = this.keys.series(dk, device, deviceTags, metric, tags);
        if (s.lazyBytes !== undefined) this.build(s);
      }
      if (t < oldest) {
        this.stats.readings++;
        this.lateReading(s, t, v);
        j++;
      } else if (this.sessions !== undefined) {
        // Sessions stay one reading at a time: each reading can extend or merge sessions.
        this.stats.readings++;
        this.addToSession(this.sessions, s, t, v, wm);
        j++;
      } else if (this.pane > 0) {
        j = this.addToPane(s, time, value, j, to, wm, oldest);
      } else {
        j = this.addAligned(s, time, value, j, to, wm, oldest);
      }
    }
  }

  /**
   * Adds reading `from` and the valid, not too old readings after it (before `to`) that
   * fall in exactly the same windows, to each of those windows in one loop; returns where
   * that sub-run ends. The same as adding them one by one: each window's accumulator gets
   * them in the same order, and a window's trigger update is the same for every one of
   * them (it depends on the window and the watermark only).
   */
  private addAligned(s: SeriesState, time: Float64Array, value: Float64Array, from: number, to: number, wm: number, oldest: number): number {
    const size = this.size;
    const slide = this.slide;
    const t0 = time[from]!;
    const last = windowStart(t0, slide);
    const below = t0 - size;
    // t0's windows start at last, last − slide, … while start > t0 − size: the oldest one in, and the first start out.
    let oldestIn = Infinity;
    let firstOut = last;
    while (firstOut > below) {
      oldestIn = firstOut;
      firstOut -= slide;
    }
    // A later reading has the same windows when its latest one is the same and the same starts pass its bound.
    // For whole-ms times (the gateway's) the latest start is `last` exactly when last ≤ t < last + slide, which
    // spares the float % of windowStart() per reading; any other time asks windowStart().
    const lastEnd = Math.floor(t0) === t0 ? last + slide : NaN;
    let stop = from + 1;
    for (; stop < to; stop++) {
      const t = time[stop]!;
      const v = value[stop]!;
      if (!(Math.abs(t) <= MAX_EVENT_TIME) || v - v !== 0 || t < oldest) break;
      const bound = t - size;
      if (!(oldestIn > bound) || firstOut > bound) break;
      if (!(t >= last && t < lastEnd && Math.floor(t) === t) && windowStart(t, slide) !== last) break;
    }
    let placed = false;
    for (let start = last; start > below; start -= slide) {
      const end = start + size;
      if (end + this.lateness <= wm) break; // purged, and so is every earlier window of these readings
      const wins = s.windows;
      let i = wins.length - 1; // in-order data hits the newest window first
      while (i >= 0 && wins[i]!.start > start) i--;
      let win = i >= 0 ? wins[i]! : undefined;
      if (win === undefined || win.start !== start) {
        win = new WindowState(s, start, end);
        wins.splice(i + 1, 0, win);
        this.windowCount++;
        this.paneOwner?.lendPane(win);
      }
      if (!win.sharesPane) win.acc.addMany(time, value, from, stop, this.keyMemo);
      this.trigger.onUpdate(win, wm);
      placed = true;
    }
    this.stats.readings += stop - from;
    if (placed) this.touch(s);
    else for (let j = from; j < stop; j++) this.lateReading(s, time[j]!, value[j]!);
    return stop;
  }

  /**
   * The pane path of addAligned: adds reading `from` and the valid, not too old readings
   * after it (before `to`) that fall in the same pane to that pane in one loop, and gives
   * each window holding the pane that is not past end + allowedLateness its trigger update
   * (a window with its own accumulator, restored without panes, takes the readings too);
   * returns where that sub-run ends. Windows already past it are frozen first if they are
   * still to be emitted (see the class comment). Allocates only a new window or pane.
   */
  private addToPane(s: SeriesState, time: Float64Array, value: Float64Array, from: number, to: number, wm: number, oldest: number): number {
    const size = this.size;
    const slide = this.slide;
    const pane = this.pane;
    const t0 = time[from]!;
    const p = windowStart(t0, pane);
    const pEnd = p + pane;
    // As in addAligned: for whole-ms times the pane is p exactly when p ≤ t < p + pane; any other time asks windowStart().
    let stop = from + 1;
    for (; stop < to; stop++) {
      const t = time[stop]!;
      const v = value[stop]!;
      if (!(Math.abs(t) <= MAX_EVENT_TIME) || v - v !== 0 || t < oldest) break;
      if (!(t >= p && t < pEnd && Math.floor(t) === t) && windowStart(t, pane) !== p) break;
    }
    // The windows holding the pane start at windowStart(p, slide), one slide before it, … while start > p − size.
    const below = p - size;
    const wins = s.windows;
    let i = wins.length - 1; // in-order data hits the newest window first
    let placed = false;
    for (let start = windowStart(p, slide); start > below; start -= slide) {
      const end = start + size;
      if (end + this.lateness <= wm) {
        // Past cleanup, and so is every earlier window of the pane: they take none of these
        // readings, but the pane will if a later window did.
        if (placed) this.freezeClosed(s, below, start);
        break;
      }
      while (i >= 0 && wins[i]!.start > start) i--;
      let win = i >= 0 ? wins[i]! : undefined;
      if (win === undefined || win.start !== start) {
        win = new WindowState(s, start, end, false);
        wins.splice(i + 1, 0, win);
        this.windowCount++;
      } else if (win.ownAcc) {
        win.acc.addMany(time, value, from, stop, this.keyMemo);
      }
      this.trigger.onUpdate(win, wm);
      placed = true;
    }
    this.stats.readings += stop - from;
    if (placed) {
      const sharer = this.sharer;
      const acc = (s.panes ??= new Panes()).at(p, sharer === undefined ? -1 : this.batchNo);
      if (sharer !== undefined && p + sharer.size + sharer.lateness <= wm) this.unshare(acc);
      acc.addMany(time, value, from, stop, this.keyMemo);
      this.touch(s);
    } else {
      for (let j = from; j < stop; j++) this.lateReading(s, time[j]!, value[j]!);
    }
    return stop;
  }

  /**
   * Gives the pane-backed windows of `s` starting in (after, upTo], which are past
   * end + allowedLateness, their own accumulator (their panes merged as they are now) when
   * they are still to be emitted: not fired yet, or fired and changed since. Their panes
   * are about to take readings these windows did not take.
   */
  private freezeClosed(s: SeriesState, after: number, upTo: number): void {
    const wins = s.windows;
    for (let i = 0; i < wins.length; i++) {
      const win = wins[i]!;
      if (win.start > upTo) break;
      if (win.start > after && !win.ownAcc && (!win.fired || win.dirty)) {
        win.freeze(this.mergePanes(win, new WindowAccumulator()));
        this.frozen++;
      }
    }
  }

  private addToSession(sw: SessionWindows, s: SeriesState, t: number, v: number, wm: number): void {
    sw.find(s.windows, t, wm - this.lateness);
    // Late only if even the merged session is past cleanup (Flink checks the merged window too).
    if (sw.end + this.lateness <= wm) return this.lateReading(s, t, v);
    const oldStart = sw.count > 0 ? s.windows[sw.first]!.start : NaN;
    const create = (start: number, end: number): WindowState => {
      this.windowCount++;
      return new WindowState(s, start, end);
    };
    const win = sw.merge(s.windows, create, (into, gone) => {
      into.acc.merge(gone.acc);
      if (gone.emitted) supersede(into, gone.start);
      for (const start of gone.supersedes ?? []) supersede(into, start);
      gone.purged = true; // its timer entries go stale
      this.windowCount--;
    });
    if (win.emitted) supersede(win, oldStart);
    win.acc.add(t, v);
    this.trigger.onUpdate(win, wm);
    this.touch(s);
  }

  private purge(win: WindowState): void {
    this.windowCount--;
    const s = win.series;
    const wins = s.windows;
    wins.splice(wins.indexOf(win), 1);
    if (win.ownAcc) win.release(); // its result was built when it fired: nothing reads the accumulator again
    // The panes whose latest window this was (start < win.start + slide): every window holding them is purged now.
    if (s.panes !== undefined && (s.panes.dropBefore(win.start + this.slide) === 0 || wins.length === 0)) {
      s.panes.release();
      s.panes = undefined;
    }
    if (wins.length === 0) this.removeKey(s);
    else this.touch(s);
  }

  /** Builds a restored key's windows from its snapshot bytes and arms them (window-state.ts: lazy restore). */
  private build(s: SeriesState): void {
    const r = s.lazyBytes!;
    s.lazyBytes = undefined;
    r.at = s.lazyFrom;
    readWindows(r, s, s.lazyPanes);
    for (const win of s.windows) this.trigger.onRestore(win);
  }

  /** Notes a key changed since the last snapshot (for the next delta). */
  private touch(s: SeriesState): void {
    if (s.changed) return;
    s.changed = true;
    this.changed.push(s);
  }

  private removeKey(s: SeriesState): void {
    if (s.persisted) {
      s.persisted = false;
      this.removed.push(s); // the last snapshot has it: the next delta must drop it
    }
    this.keys.remove(s);
  }

  private lateReading(s: SeriesState, time: number, value: number): void {
    this.stats.late++;
    this.late.push({ window: this.spec.name, device: s.device, metric: s.metric, deviceTags: s.deviceTags, readingTags: s.readingTags, time, value });
    if (s.windows.length === 0) this.emptied.push(s);
  }

  /** Bytes a full snapshot will take, roughly (to size a buffer): from the bytes per key of the last snapshot. */
  get snapshotSizeHint(): number {
    return 4096 + Math.ceil(this.keys.size * this.bytesPerKey * 1.1);
  }

  /** Bytes a delta snapshot will take, roughly. */
  get deltaSizeHint(): number {
    return 4096 + Math.ceil(this.changed.length * this.bytesPerKey * 1.1) + this.removed.length * 16;
  }

  /** The operator's whole state for a checkpoint: header (shape, watermark, counters), the key strings, then every key with its windows. */
  snapshot(): Uint8Array {
    const w = new ByteWriter(this.snapshotSizeHint);
    drain(this.writeSnapshot(w));
    return w.finish();
  }

  /**
   * snapshot() into a writer, in slices: it yields every few thousand keys so that a
   * caller can let the event loop run (ingest: at 1 M keys a snapshot takes seconds). The
   * operator must not change until it is done.
   */
  *writeSnapshot(w: ByteWriter): Generator<void, void, void> {
    const keys = this.keys;
    writeHeader(w, 'full', this.spec, this.wm, this.stats, this.layout);
    yield* keys.writeStrings(w);
    w.varint(keys.size);
    const from = w.length;
    let n = 0;
    for (let s = keys.first; s !== undefined; s = s.next) {
      keys.writeKey(w, s);
      writeWindows(w, s, this.pane > 0);
      s.persisted = true;
      s.changed = false;
      if (++n % SNAPSHOT_SLICE === 0) yield;
    }
    if (n >= 1024) this.bytesPerKey = (w.length - from) / n;
    this.changed = [];
    this.removed = [];
  }

  /**
   * What changed since the previous snapshot (full or delta): header, the keys removed,
   * then each changed key with its whole window list in first-seen order (so keys new
   * since then are appended in the order they came), then the delta's own key strings.
   */
  snapshotDelta(): Uint8Array {
    const w = new ByteWriter(this.deltaSizeHint);
    drain(this.writeDelta(w));
    return w.finish();
  }

  /** snapshotDelta() into a writer, in slices like writeSnapshot(). */
  *writeDelta(w: ByteWriter): Generator<void, void, void> {
    const table = new KeyTable();
    writeHeader(w, 'delta', this.spec, this.wm, this.stats, this.layout);
    const lengthAt = w.length;
    w.u32(0); // the keys' byte length: the key strings follow them, as only then are they known
    w.varint(this.removed.length);
    for (const s of this.removed) table.writeKey(w, s);
    const changed = this.changedInOrder();
    w.varint(changed.length);
    const from = w.length;
    let n = 0;
    for (const s of changed) {
      table.writeKey(w, s);
      writeWindows(w, s, this.pane > 0);
      s.persisted = true;
      s.changed = false;
      if (++n % SNAPSHOT_SLICE === 0) yield;
    }
    if (n >= 1024) this.bytesPerKey = (w.length - from) / n;
    w.patchU32(lengthAt, w.length - lengthAt - 4);
    this.changed = [];
    this.removed = [];
    table.writeTo(w);
  }

  /** The live changed keys by ordinal (a walk over every key when most changed: no sort). */
  private changedInOrder(): SeriesState[] {
    const keys = this.keys;
    if (this.changed.length * 4 > keys.size) {
      const out: SeriesState[] = [];
      for (let s = keys.first; s !== undefined; s = s.next) if (s.changed) out.push(s);
      return out;
    }
    return this.changed.filter((s) => keys.has(s)).sort((a, b) => a.ordinal - b.ordinal);
  }

  /**
   * Rebuilds an operator from a full snapshot() and the snapshotDelta()s taken after it, in
   * order (no full: start empty, e.g. a window added since the full one was taken). The
   * spec's type and durations must match (its name may change). Window aggregates stay as
   * the given bytes until first used (window-state.ts), so the bytes must not change.
   */
  static restore(
    spec: WindowSpec,
    time: Pick<TimeConfig, 'allowedLateness'> & Partial<Pick<TimeConfig, 'maxBackfill'>>,
    full: Uint8Array | undefined,
    deltas: readonly Uint8Array[] = [],
    clocks?: DeviceClocks,
    options: WindowOperatorOptions = {},
  ): WindowOperator {
    const op = new WindowOperator(spec, time, clocks, options);
    if (full !== undefined) op.readFull(full);
    for (const delta of deltas) op.readDelta(delta);
    // Every key is still bytes. Timers and the re-fire list are not stored: they follow
    // from the windows' flags. A key gets one timer, at its earliest window's (a run of
    // keys due at the same time shares one), and is built then or at its next reading;
    // one with a pending re-fire is built now.
    let run: SeriesState[] = [];
    let runAt = NaN;
    const arm = (): void => {
      if (run.length > 0) op.trigger.onRestoreLazy(run.length === 1 ? run[0]! : run, runAt);
      run = [];
    };
    for (let s = op.keys.first; s !== undefined; s = s.next) {
      s.persisted = true;
      const r = s.lazyBytes!;
      r.at = s.lazyFrom;
      scanWindows(r, s, op.lateness, SCAN, s.lazyPanes);
      op.windowCount += SCAN.windows;
      if (SCAN.refire) {
        op.build(s);
        continue;
      }
      if (SCAN.firstTimer !== runAt) {
        arm();
        runAt = SCAN.firstTimer;
      }
      run.push(s);
    }
    arm();
    return op;
  }

  /** Reads a key's windows as bytes only (checked): see window-state.ts. `panes`: the snapshot's layout has pane lists. */
  private readLazy(r: ByteReader, s: SeriesState, panes: boolean): void {
    const from = r.at;
    scanWindows(r, s, this.lateness, SCAN, panes);
    s.lazyBytes = r; // its windows list stays empty until built
    s.lazyFrom = from;
    s.lazyTo = r.at;
    s.lazyPanes = panes;
  }

  /**
   * Reads a snapshot's header; its layout must be one this operator can take: panes only
   * into an operator with panes (one with panes takes a snapshot without: its windows keep
   * their own aggregates).
   */
  private readSnapshotHeader(r: ByteReader, kind: 'full' | 'delta'): SnapshotLayout {
    const layout: SnapshotLayout = { panes: false };
    this.wm = readHeader(r, kind, this.spec, this.stats, layout);
    if (layout.panes && this.pane === 0) throw new StateMismatchError(`the snapshot of window "${this.spec.name}" holds panes, and this operator keeps sliding windows without: its state cannot be reused`);
    return layout;
  }

  private readFull(bytes: Uint8Array): void {
    const r = new ByteReader(bytes, `window operator snapshot (${this.spec.name})`);
    const { panes } = this.readSnapshotHeader(r, 'full');
    const table = this.keys.readStrings(r);
    const n = r.varint();
    // Written in first-seen order, so fresh ordinals keep the relative order fired output is sorted by.
    for (let i = 0; i < n; i++) this.readLazy(r, this.keys.readKey(r, table), panes);
    r.end();
  }

  private readDelta(bytes: Uint8Array): void {
    const r = new ByteReader(bytes, `window operator delta (${this.spec.name})`);
    const { panes } = this.readSnapshotHeader(r, 'delta');
    const keysLength = r.u32();
    const keysAt = r.at;
    r.skip(keysLength);
    const table = KeyIndex.readTable(r);
    r.end();
    const end = r.at;
    r.at = keysAt;
    const removed = r.varint();
    for (let i = 0; i < removed; i++) {
      const s = this.keys.readTableKey(r, table, false) ?? r.fail('a removed key is not in the state it applies to');
      this.keys.remove(s);
    }
    const changed = r.varint();
    for (let i = 0; i < changed; i++) {
      this.readLazy(r, this.keys.readTableKey(r, table, true)!, panes);
    }
    if (r.at !== keysAt + keysLength) r.fail(`keys end at byte ${r.at}, not ${keysAt + keysLength}`);
    r.at = end;
  }
}

/** How a WindowOperator keeps its state. */
export interface WindowOperatorOptions {
  /** Sliding windows in panes (default true); false keeps an accumulator per window, the reference the pane path is tested against. */
  panes?: boolean;
}

const ownResult = (win: WindowState): AggregateResult => win.acc.result();

const SCAN: WindowScan = { windows: 0, firstTimer: 0, refire: false };
/** Keys a snapshot writes between two yields (a few ms each). */
const SNAPSHOT_SLICE = 8192;

function drain(slices: Generator<void, void, void>): void {
  while (!slices.next().done);
}

/** Records that `win` replaces the point at `start` (nothing when that is its own start: the point is overwritten). */
function supersede(win: WindowState, start: number): void {
  if (start === win.start || Number.isNaN(start)) return;
  (win.supersedes ??= []).push(start);
}
