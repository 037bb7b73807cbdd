import { encodePoint, seriesText, type EncodedPoint } from './sink/index.js';
import { pointTags, windowPoint } from './points.js';
import type { FiredWindow } from './windowing/fired-window.js';

/**
 * Series texts kept at most, over all windows; past it the cache starts again. 2 windows ×
 * 10 000 devices × 5 metrics is 100 000; a fleet past this costs a re-encode per point.
 */
const MAX_SERIES = 1 << 18;

/** A float field of a window point, in line-protocol (sorted) order after `count`. */
type FloatField = 'first' | 'last' | 'max' | 'mean' | 'min' | 'p50' | 'p90' | 'p99' | 'stddev' | 'sum';
const FLOAT_FIELDS: readonly FloatField[] = ['first', 'last', 'max', 'mean', 'min', 'p50', 'p90', 'p99', 'stddev', 'sum'];
const FLOAT_PREFIX = FLOAT_FIELDS.map((name) => `,${name}=`);

/** Reused between calls, as in point.ts: one join per line, no rope. */
const pieces: string[] = [];

/**
 * Writes fired windows as line protocol: exactly `encodePoint(windowPoint(w))`, without the
 * point object, its tag and field records, or the tags' parse, sort and escaping per point.
 * A series' text (measurement and tags) is the same at every window close, so it is kept,
 * looked up by the strings a fired window carries. Under the fleet load the point objects
 * and their texts were half of a processor thread's allocation, all of it kept until the
 * sink's flush and so promoted into its old generation.
 */
export class WindowLines {
  /** window → deviceTags → readingTags → metric → device → series text: the rarely varying first, so the leaves are few large maps. */
  private readonly series = new Map<string, Map<string, Map<string, Map<string, Map<string, string>>>>>();
  private kept = 0;

  /** `maxSeries`: series texts kept at most before the cache starts again. */
  constructor(private readonly maxSeries = MAX_SERIES) {}

  /** The window's point as line protocol and its key; throws PointInvalidError as encodePoint does. */
  encode(w: FiredWindow): EncodedPoint {
    const r = w.result;
    // Anything encodePoint would refuse takes its path, for its error.
    if (!Number.isSafeInteger(w.start) || !Number.isSafeInteger(r.count)) return encodePoint(windowPoint(w));
    const series = this.seriesOf(w);
    let p = 0;
    pieces[p++] = series;
    pieces[p++] = ' count=';
    pieces[p++] = String(r.count);
    pieces[p++] = 'i';
    for (let i = 0; i < FLOAT_FIELDS.length; i++) {
      const value = r[FLOAT_FIELDS[i]!];
      // Left out when not finite, as windowPoint does (InfluxDB stores only finite floats).
      if (!Number.isFinite(value)) continue;
      pieces[p++] = FLOAT_PREFIX[i]!;
      pieces[p++] = String(value);
    }
    const time = String(w.start);
    pieces[p++] = ' ';
    pieces[p++] = time;
    pieces.length = p;
    return { line: pieces.join(''), key: `${series} ${time}` };
  }

  private seriesOf(w: FiredWindow): string {
    const byDeviceTags = child(this.series, w.window);
    const byReadingTags = child(byDeviceTags, w.deviceTags);
    const byMetric = child(byReadingTags, w.readingTags);
    const byDevice = child(byMetric, w.metric);
    let text = byDevice.get(w.device);
    if (text === undefined) {
      text = seriesText({ measurement: w.window, tags: pointTags(w.device, w.metric, w.deviceTags, w.readingTags), timeMs: w.start });
      if (this.kept >= this.maxSeries) {
        this.series.clear();
        this.kept = 0;
        return text;
      }
      byDevice.set(w.device, text);
      this.kept++;
    }
    return text;
  }
}

function child<V>(map: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let next = map.get(key);
  if (next === undefined) map.set(key, (next = new Map()));
  return next;
}
