/**
 * The text that deletes one point (a series at one time): an InfluxQL DELETE for 1.x, a
 * /api/v2/delete request for 2.x. Names are matched as InfluxDB stored them, which is the
 * line protocol the client wrote, unescaped by InfluxDB's own rules.
 */
import { escape } from '@influxdata/influxdb-client';
import { PointInvalidError } from './errors.js';
import { toLineProtocol, type SinkPointId } from './point.js';

/** A point's series as InfluxDB stores it: measurement and tags (empty ones left out), tags sorted by key. */
export interface StoredSeries {
  measurement: string;
  tags: [key: string, value: string][];
}

/**
 * InfluxDB (1.x and 2.x, models.unescapeTag) turns `\,` `\ ` `\=` back into the character and
 * keeps every other backslash: the `\n` `\r` `\t` the client writes for a newline, carriage
 * return or tab are stored as those two characters. point.ts refuses the backslashes that
 * would make this ambiguous (one before `,` ` ` `=` or at the end of a name).
 */
const unescapeTag = (s: string) => s.replace(/\\([, =])/g, '$1');
const unescapeMeasurement = (s: string) => s.replace(/\\([, ])/g, '$1');

/** The series as stored; throws PointInvalidError for a point that could not be written either. */
export function storedSeries(point: SinkPointId): StoredSeries {
  toLineProtocol({ measurement: point.measurement, tags: point.tags, fields: { _: true }, timeMs: point.timeMs });
  const tags: [string, string][] = [];
  // The client's Point sorts tags by key and leaves out an empty key or value; so do we.
  for (const key of Object.keys(point.tags).sort()) {
    const value = point.tags[key]!;
    if (key !== '' && value !== '') tags.push([unescapeTag(escape.tag(key)), unescapeTag(escape.tag(value))]);
  }
  return { measurement: unescapeMeasurement(escape.measurement(point.measurement)), tags };
}

/**
 * InfluxQL's scanner (influxql.ScanString) knows the escapes `\\` `\'` `\"` `\n` and no
 * others; it reads U+0000 as the end of input and a carriage return as a newline, which
 * ends a quoted token. Names holding those two cannot be written in a statement at all.
 */
function quote(s: string, q: '"' | "'", point: SinkPointId): string {
  if (/[\0\r]/.test(s)) invalid(`${JSON.stringify(s)} holds U+0000 or a carriage return, which InfluxQL cannot quote`, point);
  return q + s.replace(q === '"' ? /[\\"\n]/g : /[\\'\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`)) + q;
}

function invalid(what: string, point: SinkPointId): never {
  throw new PointInvalidError(`cannot delete point ${JSON.stringify(point.measurement)} at ${point.timeMs}: ${what}`);
}

/** An InfluxQL identifier: always double-quoted, so keywords, spaces and punctuation are safe. */
export function influxqlIdent(name: string, point: SinkPointId): string {
  return quote(name, '"', point);
}

/**
 * `DELETE FROM "m" WHERE "k"='v' AND … AND time = <ns>` for InfluxDB 1.x (/query, db=).
 * Tag predicates match every series holding those tag values, extra tags or not, so each
 * of `tagKeys` (SHOW TAG KEYS of the measurement) the point lacks is required absent
 * (`"k"=''`): a series of the same device and metric with one more tag keeps its point.
 * 1.x's DELETE has no retention policy: it deletes in every retention policy of the database.
 */
export function influxqlDelete(point: SinkPointId, tagKeys: Iterable<string> = []): string {
  const series = storedSeries(point);
  const where = series.tags.map(([key, value]) => `${quote(key, '"', point)}=${quote(value, "'", point)}`);
  const own = new Set(series.tags.map(([key]) => key));
  for (const key of [...new Set(tagKeys)].sort()) if (!own.has(key)) where.push(`${quote(key, '"', point)}=''`);
  // Nanoseconds, exact: the point was written with precision=ms, so its stored time is ms × 10^6.
  where.push(`time = ${BigInt(point.timeMs) * 1_000_000n}`);
  return `DELETE FROM ${quote(series.measurement, '"', point)} WHERE ${where.join(' AND ')}`;
}

/** The JSON body of one POST /api/v2/delete. */
export interface V2DeleteRequest {
  start: string;
  stop: string;
  predicate: string;
}

/**
 * The /api/v2/delete body for one point: start and stop inclusive, the point's millisecond
 * (the sink writes precision=ms), and `"_measurement"="m" AND "k"="v" AND …`. The predicate
 * parser takes quoted identifiers on both sides with InfluxQL's escapes. It has only = and
 * AND, and a tag the series lacks never matches, so, unlike 1.x, a series of the same
 * device and metric with more tags that has a point at that very millisecond loses it too.
 */
export function v2DeleteRequest(point: SinkPointId): V2DeleteRequest {
  const series = storedSeries(point);
  const terms = [`"_measurement"=${quote(series.measurement, '"', point)}`];
  for (const [key, value] of series.tags) terms.push(`${quote(key, '"', point)}=${quote(value, '"', point)}`);
  const start = new Date(point.timeMs).toISOString();
  // Go's RFC3339Nano parser takes four-digit years only.
  if (!/^\d{4}-/.test(start)) invalid(`time ${start} is outside the years 0000-9999 RFC 3339 can write`, point);
  return { start, stop: start.replace(/Z$/, '999999Z'), predicate: terms.join(' AND ') };
}
