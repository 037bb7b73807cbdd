/**
 * The sink's point model and its line protocol, written by hand. It writes byte for byte
 * what @influxdata/influxdb-client's Point wrote before (point-format.test.ts checks it
 * against that implementation, kept in testing/legacy-line-protocol.ts), at a fraction of
 * the cost: no Point object, no per-field strings kept in an object, no re-parse of the
 * line for its key.
 */
import { PointInvalidError } from './errors.js';

/**
 * A field value. A plain number is a float; `{ int }` is an integer, written with the `i`
 * suffix (InfluxDB fixes a field's type on first write, so `count` must always be an int):
 * a safe integer number, or a bigint in the int64 range InfluxDB stores (a raw int reading).
 */
export type FieldValue = number | { int: number | bigint } | boolean | string;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** One point: a series (measurement + tags) at a time, with its fields. */
export interface SinkPoint {
  measurement: string;
  /** An empty tag value is left out, as InfluxDB itself does not store empty tags. */
  tags: Record<string, string>;
  /** At least one field. */
  fields: Record<string, FieldValue>;
  /** Epoch milliseconds; the writer sends precision=ms. */
  timeMs: number;
}

/** One point's identity without its fields: what a delete names (InfluxDB's series + time). */
export type SinkPointId = Pick<SinkPoint, 'measurement' | 'tags' | 'timeMs'>;

/** A point as line protocol, and its identity (what InfluxDB upserts on). */
export interface EncodedPoint {
  /** One line of line protocol, ms precision, without a newline. */
  line: string;
  /** The series (measurement and sorted tags, escaped as in the line), a space, the time: lineKey(line). */
  key: string;
}

// Line protocol escaping, as the client did it (and InfluxDB 1.x/2.x read it): measurements
// escape comma and space; tag keys, tag values and field keys also `=`; all three write
// newline, carriage return and tab as `\n`, `\r`, `\t`. String field values escape `"` and `\`.
const MEASUREMENT_SPECIAL = /[, \n\r\t]/;
const MEASUREMENT_ALL = /[, \n\r\t]/g;
const TAG_SPECIAL = /[, =\n\r\t]/;
const TAG_ALL = /[, =\n\r\t]/g;
const QUOTED_SPECIAL = /["\\]/;
const QUOTED_ALL = /["\\]/g;
const REPLACEMENTS: Record<string, string> = { ',': '\\,', ' ': '\\ ', '=': '\\=', '\n': '\\n', '\r': '\\r', '\t': '\\t', '"': '\\"', '\\': '\\\\' };
const replace = (c: string): string => REPLACEMENTS[c]!;

function escapeMeasurement(name: string): string {
  // test() first: almost no name needs escaping, and then no new string is made.
  return MEASUREMENT_SPECIAL.test(name) ? name.replace(MEASUREMENT_ALL, replace) : name;
}

function escapeTag(name: string): string {
  return TAG_SPECIAL.test(name) ? name.replace(TAG_ALL, replace) : name;
}

function quote(value: string): string {
  return `"${QUOTED_SPECIAL.test(value) ? value.replace(QUOTED_ALL, replace) : value}"`;
}

// Backslashes are written as they are, so one at the end of a name or before a character
// that gets escaped (`a\ b` → `a\\ b`) would swallow a separator and corrupt the line; refuse those.
function checkName(kind: string, name: string, point: SinkPointId): void {
  // includes() first: this runs for every name of every point, and backslashes are rare.
  if (name.includes('\\') && /\\([, =]|$)/.test(name)) invalid(`${kind} ${JSON.stringify(name)} has a backslash at its end or before a comma, space or =`, point);
}

function invalid(what: string, point: SinkPointId): never {
  throw new PointInvalidError(`cannot write point ${JSON.stringify(point.measurement)} at ${point.timeMs}: ${what}`);
}

/**
 * Sorts `keys[0..n)` in place by UTF-16 code units, as Array.prototype.sort() does without
 * a comparator. Insertion sort: points have a handful of tags and fields, and this needs no
 * new array or comparator calls.
 */
function sortKeys(keys: string[], n: number): void {
  for (let i = 1; i < n; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = key;
  }
}

/** Reused between calls (the sink runs on one thread and nothing here awaits): no arrays per point. */
const tagKeys: string[] = [];
const fieldKeys: string[] = [];
/**
 * The pieces of a line, joined once. `+=` would make a rope (a ConsString per piece) that the
 * buffer keeps until the flush joins the batch: measured, the ropes of 11-field window
 * points doubled the GC time; join('') makes one flat string.
 */
const pieces: string[] = [];

/** The measurement and its tags (sorted, empty ones left out), escaped; checks names and time as toLineProtocol does. */
function encodeSeries(point: SinkPointId): string {
  if (point.measurement === '') invalid('the measurement name is empty', point);
  if (!Number.isSafeInteger(point.timeMs)) invalid(`time ${point.timeMs} is not an integer number of ms`, point);
  return seriesText(point);
}

/**
 * A point's series as line protocol: the measurement and its tags (sorted, empty ones left
 * out), escaped, as the line and its key start; checks the names (not the time) as
 * toLineProtocol does and throws PointInvalidError. The same for every point of the series,
 * so a caller may keep it.
 */
export function seriesText(point: SinkPointId): string {
  if (point.measurement === '') invalid('the measurement name is empty', point);
  checkName('measurement', point.measurement, point);
  let n = 0;
  const tags = point.tags;
  for (const key in tags) {
    const value = tags[key]!;
    checkName('tag key', key, point);
    checkName('tag value', value, point);
    // InfluxDB stores no empty tag key or value; the client left them out too.
    if (key !== '' && value !== '') tagKeys[n++] = key;
  }
  sortKeys(tagKeys, n);
  if (n === 0) return escapeMeasurement(point.measurement);
  let p = 0;
  pieces[p++] = escapeMeasurement(point.measurement);
  for (let i = 0; i < n; i++) {
    const key = tagKeys[i]!;
    pieces[p++] = ',';
    pieces[p++] = escapeTag(key);
    pieces[p++] = '=';
    pieces[p++] = escapeTag(tags[key]!);
  }
  pieces.length = p;
  return pieces.join('');
}

/** One field's value as line protocol; the value was checked by encodePoint. */
function fieldText(value: FieldValue): string {
  // Number → string is the shortest text that parses back to the same double (ECMA-262 Number::toString).
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? 'T' : 'F';
  if (typeof value === 'string') return quote(value);
  return `${value.int}i`;
}

/** Serializes a point to one line of InfluxDB line protocol and its key; throws PointInvalidError. */
export function encodePoint(point: SinkPoint): EncodedPoint {
  const series = encodeSeries(point);
  // Every field is checked first, in the point's order, so a point with several problems is
  // refused for the same one as before; then the fields are written sorted by name.
  let n = 0;
  const fields = point.fields;
  for (const name in fields) {
    const value = fields[name]!;
    checkName('field', name, point);
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) invalid(`field ${name} is ${value}; InfluxDB stores only finite floats`, point);
    } else if (typeof value !== 'boolean' && typeof value !== 'string') {
      // A fraction would be floored and a number past 2^53 is not exact; refuse both. A bigint is exact: it must fit InfluxDB's int64.
      const int = value.int;
      if (typeof int === 'bigint') {
        if (int < INT64_MIN || int > INT64_MAX) invalid(`integer field ${name} is ${int}, outside int64`, point);
      } else if (!Number.isSafeInteger(int)) {
        invalid(`integer field ${name} is ${int}, not a safe integer`, point);
      }
    }
    // A field without a name cannot be written; the client left it out.
    if (name !== '') fieldKeys[n++] = name;
  }
  if (n === 0) invalid('it has no fields', point);
  sortKeys(fieldKeys, n);
  const time = String(point.timeMs);
  let p = 0;
  pieces[p++] = series;
  for (let i = 0; i < n; i++) {
    const name = fieldKeys[i]!;
    pieces[p++] = i === 0 ? ' ' : ',';
    pieces[p++] = escapeTag(name);
    pieces[p++] = '=';
    pieces[p++] = fieldText(fields[name]!);
  }
  pieces[p++] = ' ';
  pieces[p++] = time;
  pieces.length = p;
  const line = pieces.join('');
  // The key is hashed as soon as the sink buffers it, which flattens it.
  return { line, key: `${series} ${time}` };
}

/** Serializes a point to one line of InfluxDB line protocol (ms precision); throws PointInvalidError. */
export function toLineProtocol(point: SinkPoint): string {
  return encodePoint(point).line;
}

/** lineKey() of the point `id` names, whatever its fields; throws PointInvalidError as toLineProtocol does. */
export function pointKey(id: SinkPointId): string {
  return `${encodeSeries(id)} ${id.timeMs}`;
}

/**
 * The identity InfluxDB upserts on: the series (measurement and sorted tags, as escaped in
 * the line) plus the timestamp. Two lines with the same key overwrite each other's fields.
 */
export function lineKey(line: string): string {
  // The series ends at the first space that is not escaped; the timestamp follows the last space.
  let end = line.indexOf(' ');
  while (end > 0 && escaped(line, end)) end = line.indexOf(' ', end + 1);
  return line.slice(0, end) + line.slice(line.lastIndexOf(' '));
}

/** True when an odd number of backslashes precedes position `at`. */
function escaped(line: string, at: number): boolean {
  let i = at - 1;
  while (i >= 0 && line.charCodeAt(i) === 92 /* \ */) i--;
  return (at - 1 - i) % 2 === 1;
}
