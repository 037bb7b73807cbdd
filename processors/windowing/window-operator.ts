import { MSG_FLAG_DROPPED, type ColumnarBatch } from '../../proto/index.js';
import { ByteReader, ByteWriter } from '../state/bytes.js';
import { SessionWindows, SlidingWindows, windowStart } from './assigners.js';
import type { FiredWindow, LateReading, WindowOperatorStats } from './fired-window.js';
import { readHeader, writeHeader } from './operator-snapshot.js';
import { EventTimeTrigger } from './triggers.js';
import { KeyIndex } from './key-index.js';
import { readWindows, WindowState, writeWindows, type SeriesState } from './window-state.js';
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
 *   and write those before taking a checkpoint.
 * State size per key: see window-state.ts.
 */
export class WindowOperator {
  readonly stats: WindowOperatorStats = { readings: 0, late: 0, invalid: 0, fired: 0, refired: 0 };
  private readonly keys = new KeyIndex();
  private readonly trigger: EventTimeTrigger;
  private late: LateReading[] = [];
  private emptied: SeriesState[] = [];
  private wm = -Infinity;
  private windowCount = 0;
  private readonly lateness: number;
  // Tumbling is sliding with slide = size: one loop serves both.
  private readonly size: number;
  private readonly slide: number;
  private readonly sessions: SessionWindows | undefined;

  constructor(
    readonly spec: WindowSpec,
    time: Pick<TimeConfig, 'allowedLateness'>,
  ) {
    this.lateness = time.allowedLateness;
    this.trigger = new EventTimeTrigger(this.lateness, this.stats);
    if (spec.type === 'session') {
      this.sessions = new SessionWindows(spec.gap);
      this.size = this.slide = 0;
    } else {
      const sliding = new SlidingWindows(spec.size, spec.type === 'sliding' ? spec.slide : spec.size);
      this.size = sliding.size;
      this.slide = sliding.slide;
    }
  }

  /** The last watermark given to onWatermark (−Infinity before any). */
  get watermark(): number {
    return this.wm;
  }

  /** Keys and windows held. */
  get stateSize(): { keys: number; windows: number } {
    return { keys: this.keys.all.size, windows: this.windowCount };
  }

  /**
   * Aggregates a batch's numeric readings. `acceptMessage(i)` is the caller's dedup
   * decision for message i (e.g. from SeqDeduplicator.acceptBatch); it must not have side
   * effects: it is not called for messages flagged dropped or without numeric readings.
   */
  processBatch(batch: ColumnarBatch, acceptMessage: (msgIndex: number) => boolean): void {
    const { strings, msgDevice, msgDeviceTags, msgFlags, numEnd, metric, tags, time, value } = batch;
    const index = this.keys;
    index.beginBatch(strings);
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
      for (let j = from; j < to; j++) {
        const t = time[j]!;
        const v = value[j]!;
        if (!(Math.abs(t) <= MAX_EVENT_TIME) || v - v !== 0) {
          this.stats.invalid++;
          continue;
        }
        const s = index.series(dk, device, deviceTags, metric[j]!, tags[j]!);
        this.stats.readings++;
        if (this.sessions === undefined) this.addAligned(s, t, v);
        else this.addToSession(this.sessions, s, t, v);
      }
      from = to;
    }
    // Keys created only by late readings would otherwise stay forever with no window.
    for (const s of this.emptied) if (s.windows.length === 0) index.remove(s);
    this.emptied = [];
  }

  /** Advances the watermark (it never goes back) and returns the windows that fire or re-fire, ordered by end. */
  onWatermark(wm: number): FiredWindow[] {
    if (wm > this.wm) this.wm = wm;
    return this.trigger.advance(this.wm, (win) => this.purge(win)).map(({ win, start, end, result, supersedes }) => {
      const s = win.series;
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

  private addAligned(s: SeriesState, t: number, v: number): void {
    let placed = false;
    for (let start = windowStart(t, this.slide); start > t - this.size; start -= this.slide) {
      const end = start + this.size;
      if (end + this.lateness <= this.wm) break; // purged, and so is every earlier window of t
      const wins = s.windows;
      let i = wins.length - 1; // in-order data hits the newest window first
      while (i >= 0 && wins[i]!.start > start) i--;
      let win = i >= 0 ? wins[i]! : undefined;
      if (win === undefined || win.start !== start) {
        win = new WindowState(s, start, end);
        wins.splice(i + 1, 0, win);
        this.windowCount++;
      }
      win.acc.add(t, v);
      this.trigger.onUpdate(win, this.wm);
      placed = true;
    }
    if (!placed) this.lateReading(s, t, v);
  }

  private addToSession(sw: SessionWindows, s: SeriesState, t: number, v: number): void {
    sw.find(s.windows, t);
    // Late only if even the merged session is past cleanup (Flink checks the merged window too).
    if (sw.end + this.lateness <= this.wm) return this.lateReading(s, t, v);
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
    this.trigger.onUpdate(win, this.wm);
  }

  private purge(win: WindowState): void {
    this.windowCount--;
    const wins = win.series.windows;
    wins.splice(wins.indexOf(win), 1);
    if (wins.length === 0) this.keys.remove(win.series);
  }

  private lateReading(s: SeriesState, time: number, value: number): void {
    this.stats.late++;
    this.late.push({ window: this.spec.name, device: s.device, metric: s.metric, deviceTags: s.deviceTags, readingTags: s.readingTags, time, value });
    if (s.windows.length === 0) this.emptied.push(s);
  }

  /** The operator's state for a checkpoint: header (shape, watermark, counters), the key strings, then every key with its windows. */
  snapshot(): Uint8Array {
    const all = this.keys.all;
    const w = new ByteWriter(1024 + all.size * 256);
    writeHeader(w, this.spec, this.wm, this.stats);
    this.keys.writeStrings(w);
    w.varint(all.size);
    for (const s of all) {
      this.keys.writeKey(w, s);
      writeWindows(w, s);
    }
    return w.finish();
  }

  /** Rebuilds an operator from snapshot(); the spec's type and durations must match (its name may change). */
  static restore(spec: WindowSpec, time: Pick<TimeConfig, 'allowedLateness'>, bytes: Uint8Array): WindowOperator {
    const r = new ByteReader(bytes, `window operator snapshot (${spec.name})`);
    const op = new WindowOperator(spec, time);
    op.wm = readHeader(r, spec, op.stats);
    const table = op.keys.readStrings(r);
    const n = r.varint();
    for (let i = 0; i < n; i++) {
      // Written in first-seen order, so fresh ordinals keep the relative order fired output is sorted by.
      const s = op.keys.readKey(r, table);
      readWindows(r, s);
      for (const win of s.windows) {
        op.windowCount++;
        op.trigger.onRestore(win);
      }
    }
    r.end();
    return op;
  }
}

/** Records that `win` replaces the point at `start` (nothing when that is its own start: the point is overwritten). */
function supersede(win: WindowState, start: number): void {
  if (start === win.start || Number.isNaN(start)) return;
  (win.supersedes ??= []).push(start);
}
