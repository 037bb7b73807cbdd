/** The sink's point model and its line protocol, escaped by @influxdata/influxdb-client's Point. */
import { Point } from '@influxdata/influxdb-client';
import { PointInvalidError } from './errors.js';

/**
 * A field value. A plain number is a float; `{ int }` is an integer, written with the `i`
 * suffix (InfluxDB fixes a field's type on first write, so `count` must always be an int).
 */
export type FieldValue = number | { int: number } | boolean | string;

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

/** Writes ms timestamps as they are: the client's default would turn numbers into ns. */
const MS_SETTINGS = { convertTime: (value: string | number | Date | undefined) => (value === undefined ? undefined : String(value)) };

// The client does not escape backslashes, so one at the end of a name or before a character
// it escapes (`a\ b` → `a\\ b`) would swallow a separator and corrupt the line; refuse those.
function checkName(kind: string, name: string, point: SinkPoint): void {
  // includes() first: this runs for every name of every point, and backslashes are rare.
  if (name.includes('\\') && /\\([, =]|$)/.test(name)) invalid(`${kind} ${JSON.stringify(name)} has a backslash at its end or before a comma, space or =`, point);
}

function invalid(what: string, point: SinkPoint): never {
  throw new PointInvalidError(`cannot write point ${JSON.stringify(point.measurement)} at ${point.timeMs}: ${what}`);
}

/** Serializes a point to one line of InfluxDB line protocol (ms precision); throws PointInvalidError. */
export function toLineProtocol(point: SinkPoint): string {
  if (point.measurement === '') invalid('the measurement name is empty', point);
  if (!Number.isSafeInteger(point.timeMs)) invalid(`time ${point.timeMs} is not an integer number of ms`, point);
  checkName('measurement', point.measurement, point);
  const p = new Point(point.measurement).timestamp(point.timeMs);
  for (const key in point.tags) {
    const value = point.tags[key]!;
    checkName('tag key', key, point);
    checkName('tag value', value, point);
    p.tag(key, value);
  }
  for (const name in point.fields) {
    const value = point.fields[name]!;
    checkName('field', name, point);
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) invalid(`field ${name} is ${value}; InfluxDB stores only finite floats`, point);
      p.floatField(name, value);
    } else if (typeof value === 'boolean') {
      p.booleanField(name, value);
    } else if (typeof value === 'string') {
      p.stringField(name, value);
    } else {
      // The client floors fractions and loses precision past 2^53 without a word; refuse both.
      if (!Number.isSafeInteger(value.int)) invalid(`integer field ${name} is ${value.int}, not a safe integer`, point);
      p.intField(name, value.int);
    }
  }
  const line = p.toLineProtocol(MS_SETTINGS);
  if (line === undefined) invalid('it has no fields', point);
  return line;
}

/** lineKey() of the point `id` names, whatever its fields; throws PointInvalidError as toLineProtocol does. */
export function pointKey(id: SinkPointId): string {
  return lineKey(toLineProtocol({ measurement: id.measurement, tags: id.tags, fields: { _: true }, timeMs: id.timeMs }));
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
