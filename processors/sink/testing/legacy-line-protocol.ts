/**
 * The sink's line protocol as it was written through @influxdata/influxdb-client's Point,
 * kept only as the reference point.ts's own formatter is tested against byte for byte
 * (point-format.test.ts). Not used by the sink.
 */
import { Point } from '@influxdata/influxdb-client';
import { PointInvalidError } from '../errors.js';
import type { SinkPoint } from '../point.js';

/** Writes ms timestamps as they are: the client's default would turn numbers into ns. */
const MS_SETTINGS = { convertTime: (value: string | number | Date | undefined) => (value === undefined ? undefined : String(value)) };

function checkName(kind: string, name: string, point: SinkPoint): void {
  if (name.includes('\\') && /\\([, =]|$)/.test(name)) invalid(`${kind} ${JSON.stringify(name)} has a backslash at its end or before a comma, space or =`, point);
}

function invalid(what: string, point: SinkPoint): never {
  throw new PointInvalidError(`cannot write point ${JSON.stringify(point.measurement)} at ${point.timeMs}: ${what}`);
}

/** The old toLineProtocol: one line of line protocol (ms precision) through the client's Point; throws PointInvalidError. */
export function legacyToLineProtocol(point: SinkPoint): string {
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
      if (!Number.isSafeInteger(value.int)) invalid(`integer field ${name} is ${value.int}, not a safe integer`, point);
      p.intField(name, value.int);
    }
  }
  const line = p.toLineProtocol(MS_SETTINGS);
  if (line === undefined) invalid('it has no fields', point);
  return line;
}

/** The old lineKey: the series and time, cut out of a formatted line. */
export function legacyLineKey(line: string): string {
  let end = line.indexOf(' ');
  while (end > 0 && escaped(line, end)) end = line.indexOf(' ', end + 1);
  return line.slice(0, end) + line.slice(line.lastIndexOf(' '));
}

function escaped(line: string, at: number): boolean {
  let i = at - 1;
  while (i >= 0 && line.charCodeAt(i) === 92 /* \ */) i--;
  return (at - 1 - i) % 2 === 1;
}
