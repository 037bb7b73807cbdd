import { MinHeap } from './min-heap.js';
import type { PointSink, Series, WindowTracker } from './series.js';
import { ChunkPool, Scratch, ValueList } from './value-list.js';

/**
 * Session windows, per series: readings whose event times lie within `gap` of each other
 * (inclusive) form one session; a reading can bridge two sessions and merge them. The
 * point's time is the session's earliest reading; the session is final once every
 * reading that could still join it (t ≤ last + gap) is behind the watermark, i.e. its end
 * last + gap + 1 ≤ watermark (the processors' half-open [first, last + gap + 1)).
 */
interface Session {
  series: Series;
  start: number;
  /** Latest event time in the session. */
  latest: number;
  values: ValueList;
  firstTime: number;
  firstValue: number;
  lastTime: number;
  lastValue: number;
  /** Merged into another session or emitted: its queue entries are stale. */
  done: boolean;
}

export class SessionWindows implements WindowTracker {
  /** Sessions by the end they had when queued; one popped early (it grew since) is queued again. */
  private readonly queue = new MinHeap<Session>();
  private readonly scratch = new Scratch();
  private readonly pool = new ChunkPool();

  constructor(
    private readonly slotIndex: number,
    private readonly gap: number,
    private readonly emit: PointSink,
  ) {}

  add(series: Series, t: number, v: number, closedBefore: number): boolean {
    let sessions = series.slots[this.slotIndex] as Session[] | undefined;
    const gap = this.gap;
    // Sessions are sorted by start and by latest; open ones are more than gap apart, and the
    // ones t joins are consecutive. A closed one (ending at or before closedBefore) is
    // joined by nothing, and a reading whose session would end there is late.
    let hi = (sessions?.length ?? 0) - 1;
    while (hi >= 0 && sessions![hi]!.start - gap > t) hi--;
    let lo = hi;
    while (lo >= 0 && sessions![lo]!.latest + gap >= t && sessions![lo]!.latest + gap + 1 > closedBefore) lo--;
    lo++;
    const latest = lo > hi ? t : Math.max(t, sessions![hi]!.latest);
    if (latest + gap + 1 <= closedBefore) return false;
    if (sessions === undefined) series.slots[this.slotIndex] = sessions = [];
    if (lo > hi) {
      const s: Session = { series, start: t, latest: t, values: new ValueList(this.pool), firstTime: t, firstValue: v, lastTime: t, lastValue: v, done: false };
      s.values.push(v);
      sessions.splice(lo, 0, s);
      this.queue.push(t + gap + 1, s);
      return true;
    }
    const into = sessions[lo]!;
    for (let i = lo + 1; i <= hi; i++) {
      // Disjoint sessions: every time in a later one is larger, so no first/last ties across them.
      const other = sessions[i]!;
      into.values.pushAll(other.values);
      other.values.release();
      into.latest = other.latest;
      into.lastTime = other.lastTime;
      into.lastValue = other.lastValue;
      other.done = true;
    }
    if (hi > lo) sessions.splice(lo + 1, hi - lo);
    into.values.push(v);
    if (t < into.start) into.start = t;
    if (t > into.latest) into.latest = t;
    if (t < into.firstTime) {
      into.firstTime = t;
      into.firstValue = v;
    }
    if (t >= into.lastTime) {
      into.lastTime = t;
      into.lastValue = v;
    }
    return true;
  }

  advance(watermark: number): void {
    while (this.queue.size > 0 && this.queue.peekKey() <= watermark) {
      const s = this.queue.pop()!;
      if (s.done) continue;
      const end = s.latest + this.gap + 1;
      if (end > watermark) {
        this.queue.push(end, s);
        continue;
      }
      s.done = true;
      const sessions = s.series.slots[this.slotIndex] as Session[];
      sessions.splice(sessions.indexOf(s), 1);
      const values = this.scratch.take(s.values.length);
      s.values.copyTo(values, 0);
      s.values.release();
      this.emit(s.series, s.start, values, s.firstValue, s.lastValue);
    }
  }
}
