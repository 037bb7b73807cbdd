/** One series: the key the processors aggregate by, which becomes the point's tags. */
export class Series {
  /** Per window tracker, that tracker's state for this series (it alone reads and writes its slot). */
  readonly slots: unknown[] = [];

  constructor(
    readonly device: string,
    readonly metric: string,
    /** Further tags (registry and reading tags), undefined when none. */
    readonly tags: Readonly<Record<string, string>> | undefined,
    /** The tags in canonical form (sorted "k=v" joined by U+0001), '' when none: part of the key and of the point order. */
    readonly tagKey: string,
  ) {}
}

/** Canonical form of a tag set: keys sorted, "k=v" joined by U+0001 (a character tags cannot hold unnoticed); '' when empty. */
export function canonicalTags(tags: Readonly<Record<string, string>> | undefined): string {
  if (tags === undefined) return '';
  const keys = Object.keys(tags).sort();
  let out = '';
  for (const k of keys) out += (out === '' ? '' : '\u0001') + k + '=' + tags[k];
  return out;
}

/** Where a tracker puts a window once it is final. */
export interface PointSink {
  (series: Series, time: number, values: Float64Array, first: number, last: number): void;
}

/** The state of one window definition over all series. */
export interface WindowTracker {
  /**
   * Adds one reading of `series` (event time t, ms; finite value) to its windows that end
   * after `closedBefore` (its device's watermark less allowed lateness: earlier windows
   * take no more readings). False when no window took it: the reading is late.
   */
  add(series: Series, t: number, v: number, closedBefore: number): boolean;
  /** Finalises, into the sink, every window that no reading at or after `watermark` can change, and frees its values. */
  advance(watermark: number): void;
}

/** t − (t mod m) with a floor modulo: the multiple of m at or below t, negative times included. */
export function floorTo(t: number, m: number): number {
  const r = t % m;
  return t - (r < 0 ? r + m : r);
}
