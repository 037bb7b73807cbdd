/** The text of deletes: InfluxQL for 1.x, the /api/v2/delete body for 2.x, and their quoting (run for real in test/session-supersede.test.ts). */
import { describe, expect, it } from 'vitest';
import { PointInvalidError } from './errors.js';
import { influxqlDelete, storedSeries, v2DeleteRequest } from './point-delete.js';
import type { SinkPointId } from './point.js';

const T = 1_700_000_000_000;
const point = (tags: Record<string, string>, measurement = 'sessions', timeMs = T): SinkPointId => ({ measurement, tags, timeMs });

describe('storedSeries', () => {
  it('gives names as InfluxDB stores them: sorted tags, empty ones left out, control characters as two-character escapes', () => {
    expect(storedSeries(point({ metric: 'temp', device: 'd1', site: '', '': 'x' }))).toEqual({ measurement: 'sessions', tags: [['device', 'd1'], ['metric', 'temp']] });
    // The client writes a newline as `\n` and InfluxDB keeps those two characters (checked against influxd 1.6).
    expect(storedSeries(point({ k: 'a\nb\tc', 'sp ace,=': 'v, =' }, 'm e,a')).tags).toEqual([['k', 'a\\nb\\tc'], ['sp ace,=', 'v, =']]);
    expect(storedSeries(point({}, 'm e,a')).measurement).toBe('m e,a');
  });
});

describe('influxqlDelete (InfluxDB 1.x)', () => {
  it('names every tag and the exact time in ns, quoting identifiers with " and values with \'', () => {
    expect(influxqlDelete(point({ device: 'd1', metric: 'temp' }))).toBe(
      `DELETE FROM "sessions" WHERE "device"='d1' AND "metric"='temp' AND time = 1700000000000000000`,
    );
  });

  it('requires the absence of every other tag key of the measurement, so a series with more tags keeps its point', () => {
    expect(influxqlDelete(point({ device: 'd1', metric: 'temp' }), ['metric', 'site', 'device', 'probe', 'site'])).toBe(
      `DELETE FROM "sessions" WHERE "device"='d1' AND "metric"='temp' AND "probe"='' AND "site"='' AND time = 1700000000000000000`,
    );
  });

  it('escapes quotes and backslashes, and keeps spaces, commas, = and keywords inside the quotes', () => {
    const tags = { device: `o'brien "the" a\\b`, metric: 'a, b=c', time: 'select', 'we"ird\\key': 'x\ny' };
    expect(influxqlDelete(point(tags, 'my "sessions"'))).toBe(
      `DELETE FROM "my \\"sessions\\"" WHERE "device"='o\\'brien "the" a\\\\b' AND "metric"='a, b=c' AND "time"='select' AND ` +
        `"we\\"ird\\\\key"='x\\\\ny' AND time = 1700000000000000000`,
    );
  });

  it('handles times before 1970 and past 2^53 ns', () => {
    expect(influxqlDelete(point({ device: 'd' }, 's', -5_000))).toMatch(/ time = -5000000000$/);
    expect(influxqlDelete(point({ device: 'd' }, 's', 8_640_000_000_000))).toMatch(/ time = 8640000000000000000$/);
  });

  it('refuses what InfluxQL cannot quote (U+0000, a carriage return in a foreign tag key) and what could not be written', () => {
    expect(() => influxqlDelete(point({ device: 'a\0b' }))).toThrow(PointInvalidError);
    expect(() => influxqlDelete(point({ device: 'd' }), ['bad\rkey'])).toThrow(/carriage return/);
    expect(() => influxqlDelete(point({ device: 'ends with \\' }))).toThrow(/backslash/);
    expect(() => influxqlDelete(point({ device: 'd' }, 's', 1.5))).toThrow(/not an integer/);
  });
});

describe('v2DeleteRequest (InfluxDB 2.x)', () => {
  it('covers exactly the point\'s millisecond and names measurement and tags with quoted identifiers', () => {
    expect(v2DeleteRequest(point({ metric: 'temp', device: 'd1' }))).toEqual({
      start: '2023-11-14T22:13:20.000Z',
      stop: '2023-11-14T22:13:20.000999999Z',
      predicate: '"_measurement"="sessions" AND "device"="d1" AND "metric"="temp"',
    });
  });

  it('escapes " and backslashes; spaces, commas, = and keywords need nothing more inside the quotes', () => {
    const { predicate } = v2DeleteRequest(point({ device: `o'brien "the" a\\b`, name: 'a, b=c', and: 'x\ty' }, 'sess ions'));
    expect(predicate).toBe(`"_measurement"="sess ions" AND "and"="x\\\\ty" AND "device"="o'brien \\"the\\" a\\\\b" AND "name"="a, b=c"`);
  });

  it('refuses times RFC 3339 cannot write', () => {
    expect(() => v2DeleteRequest(point({ device: 'd' }, 's', -62_200_000_000_000))).toThrow(/years 0000-9999/);
    expect(v2DeleteRequest(point({ device: 'd' }, 's', -1)).stop).toBe('1969-12-31T23:59:59.999999999Z');
  });
});
