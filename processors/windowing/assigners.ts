import { ConfigError } from '../../core/index.js';

/**
 * Window assigners (Flink: TumblingEventTimeWindows, SlidingEventTimeWindows,
 * EventTimeSessionWindows). Windows are half-open [start, end) in unix ms, aligned to
 * the epoch (offset 0), so every partition and every replay computes the same
 * boundaries and a window's point time (its start) is deterministic. Exact for integer
 * times with |t| ≤ 2^53 − 1 − size; the operator refuses times beyond ±8.64e15 ms (the
 * Date range), far inside that.
 */

/** A half-open event-time window [start, end) in unix ms. */
export interface TimeWindow {
  start: number;
  end: number;
}

/** The start of the window of `size` that holds `t`: t − (t mod size), with a floor modulo so negative times work. */
export function windowStart(t: number, size: number): number {
  const r = t % size;
  // JS % keeps the dividend's sign: −1 % 10 is −1, whose window starts at −10, not 0.
  return t - (r < 0 ? r + size : r);
}

function positiveMs(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v <= 0) throw new ConfigError(`${name} must be a whole number of milliseconds > 0, got ${v}`);
}

/** Fixed-size, non-overlapping windows: each timestamp belongs to exactly one. */
export class TumblingWindows {
  constructor(readonly size: number) {
    positiveMs('size', size);
  }

  /** Start of the one window holding t. */
  windowStart(t: number): number {
    return windowStart(t, this.size);
  }

  /** The window holding t. */
  assign(t: number): TimeWindow {
    const start = windowStart(t, this.size);
    return { start, end: start + this.size };
  }
}

/**
 * Windows of `size` starting every `slide` ms. A timestamp belongs to at most
 * ceil(size / slide) windows: exactly that many when slide divides size, otherwise
 * one fewer for the timestamps that fall in the last (size mod slide) ms of a slide.
 */
export class SlidingWindows {
  /** Most windows one timestamp can belong to. */
  readonly maxWindowsPerTimestamp: number;

  constructor(
    readonly size: number,
    readonly slide: number,
  ) {
    positiveMs('size', size);
    positiveMs('slide', slide);
    if (slide > size) throw new ConfigError(`slide (${slide} ms) must not exceed size (${size} ms)`);
    this.maxWindowsPerTimestamp = Math.ceil(size / slide);
  }

  /** Start of the latest window holding t (a multiple of slide); earlier ones start slide, 2·slide, … before it while start > t − size. */
  lastStart(t: number): number {
    return windowStart(t, this.slide);
  }

  /** Every window holding t, latest first (allocates: the operator walks lastStart() instead). */
  assign(t: number): TimeWindow[] {
    const out: TimeWindow[] = [];
    for (let s = this.lastStart(t); s > t - this.size; s -= this.slide) out.push({ start: s, end: s + this.size });
    return out;
  }
}

/**
 * The pane length of sliding windows (stream slicing, as Flink's sliding-window panes and
 * Scotty's slices): gcd(size, slide), the longest length that divides every window
 * boundary, so each window is exactly size / pane consecutive panes and each timestamp
 * lies in exactly one pane. 1 m every 10 s: 10 s panes, 6 a window; 25 s every 10 s:
 * 5 s panes, 5 a window; tumbling (slide = size): the window itself.
 */
export function paneLength(size: number, slide: number): number {
  let a = size;
  let b = slide;
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * Session windows, per key. Two readings belong to one session when the silence
 * between them is ≤ gap. A reading at t opens [t, t + gap + 1): the end is exclusive,
 * the first instant at which a reading would start a new session, so "overlap" of
 * half-open intervals is exactly "within gap". A key's sessions are kept sorted by
 * start and pairwise disjoint; a late reading can bridge two and merge them.
 *
 * `find` then `merge` is split so the operator can check lateness of the merged
 * window before touching state; `find` leaves its answer in the public fields.
 */
export class SessionWindows {
  /** From the last find(): index of the first session the reading joins. */
  first = 0;
  /** From the last find(): how many consecutive sessions it joins (0 = opens a new one). */
  count = 0;
  /** From the last find(): bounds of the session after merging. */
  start = 0;
  end = 0;

  constructor(readonly gap: number) {
    positiveMs('gap', gap);
  }

  /** The window a lone reading at t opens. */
  windowOf(t: number): TimeWindow {
    return { start: t, end: t + this.gap + 1 };
  }

  /**
   * Finds which of `sessions` (sorted by start and by end) a reading at t joins and the
   * merged bounds; results in first/count/start/end. Sessions ending at or before
   * `closedBefore` are closed (past allowed lateness, about to be purged) and joined by
   * nothing, so whether a reading merges does not depend on when the purge ran.
   */
  find(sessions: readonly TimeWindow[], t: number, closedBefore = -Infinity): void {
    const end = t + this.gap + 1;
    const after = t > closedBefore ? t : closedBefore;
    // Ends are sorted too, so binary-search the first session ending after t (and open).
    let lo = 0;
    let hi = sessions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sessions[mid]!.end > after) hi = mid;
      else lo = mid + 1;
    }
    let start = t;
    let mergedEnd = end;
    let k = lo;
    for (; k < sessions.length && sessions[k]!.start < end; k++) {
      const s = sessions[k]!;
      if (s.start < start) start = s.start;
      if (s.end > mergedEnd) mergedEnd = s.end;
    }
    this.first = lo;
    this.count = k - lo;
    this.start = start;
    this.end = mergedEnd;
  }

  /**
   * Applies the last find() to `sessions`: inserts a new session from `create`, or folds
   * the joined sessions into the first one (`absorb(into, from)` for each other one) and
   * widens it. Returns the session that now holds the reading.
   */
  merge<T extends TimeWindow>(sessions: T[], create: (start: number, end: number) => T, absorb: (into: T, from: T) => void): T {
    if (this.count === 0) {
      const w = create(this.start, this.end);
      sessions.splice(this.first, 0, w);
      return w;
    }
    const into = sessions[this.first]!;
    for (let i = 1; i < this.count; i++) absorb(into, sessions[this.first + i]!);
    if (this.count > 1) sessions.splice(this.first + 1, this.count - 1);
    into.start = this.start;
    into.end = this.end;
    return into;
  }
}
