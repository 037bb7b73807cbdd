import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PointInvalidError } from './errors.js';
import { encodePoint, pointKey, toLineProtocol, type FieldValue, type SinkPoint } from './point.js';
import { legacyLineKey, legacyToLineProtocol } from './testing/legacy-line-protocol.js';

// Characters line protocol treats specially, and some it does not, so names and values mix them.
const AWKWARD = [',', ' ', '=', '\n', '\r', '\t', '"', "'", 'a', 'b', 'Z', '0', '9', '_', '-', '.', 'é', 'ß', '😀', '\u0000', '\u007f', '\u2028'];
// A backslash is rarer than the rest: one before a separator or at the end refuses the whole point.
const awkwardChar = fc.oneof({ arbitrary: fc.constantFrom(...AWKWARD), weight: 30 }, { arbitrary: fc.constant('\\'), weight: 1 });
const awkwardString = (maxLength: number, minLength = 0) => fc.array(awkwardChar, { minLength, maxLength }).map((chars) => chars.join(''));
// A name is sometimes plain, sometimes awkward; __proto__ is left out: the old Point silently
// dropped a tag or field of that name (an object property assignment), the new one writes it.
const name = fc.oneof(fc.constantFrom('device', 'metric', 'site', 'value', 'count', 'a', 'B', ''), awkwardString(6)).filter((n) => n !== '__proto__');

// Refused values (NaN, ±Infinity, fractional or unsafe integers) are rarer: one refuses the whole point.
const fieldValue: fc.Arbitrary<FieldValue> = fc.oneof<fc.MaybeWeightedArbitrary<FieldValue>[]>(
  { arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }), weight: 6 }, // -0, subnormals, huge and tiny exponents
  { arbitrary: fc.constantFrom(0, -0, 0.1, 1e21, 1e-7, 123456789012345680000, 5e-324, Number.MAX_VALUE, 2 ** 53, -(2 ** 53)), weight: 3 },
  { arbitrary: fc.integer().map((int) => ({ int })), weight: 3 },
  { arbitrary: fc.maxSafeInteger().map((int) => ({ int })), weight: 3 },
  { arbitrary: fc.boolean(), weight: 3 },
  { arbitrary: awkwardString(8), weight: 3 },
  { arbitrary: fc.constantFrom(Number.NaN, Infinity, -Infinity), weight: 1 },
  { arbitrary: fc.constantFrom(-0, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, 1.5, Number.NaN).map((int) => ({ int })), weight: 1 },
);

const sinkPoint: fc.Arbitrary<SinkPoint> = fc.record({
  measurement: fc.oneof(fc.constantFrom('readings', 'telemetry_10s', ''), awkwardString(6, 1), awkwardString(6, 1)),
  tags: fc.dictionary(name, fc.oneof(fc.constantFrom('', 'sensor-00001', 'north yard'), awkwardString(6)), { maxKeys: 5 }),
  fields: fc.dictionary(name, fieldValue, { minKeys: 1, maxKeys: 6 }),
  timeMs: fc.oneof({ arbitrary: fc.integer({ min: -(2 ** 41), max: 2 ** 41 }), weight: 9 }, fc.constantFrom(-1, 0, Number.MAX_SAFE_INTEGER, 2 ** 53, 1.5, Number.NaN)),
});

/** What an implementation makes of a point: its line, or the PointInvalidError it throws. */
function outcome(format: () => string): { line: string } | { refused: string } {
  try {
    return { line: format() };
  } catch (err) {
    if (!(err instanceof PointInvalidError)) throw err;
    return { refused: err.message };
  }
}

describe('the hand-written line protocol formatter', () => {
  it('writes byte for byte what the client-based formatter wrote, and refuses the same points for the same reason', () => {
    let written = 0;
    // Seeded: a failure names the same point on every run.
    fc.assert(
      fc.property(sinkPoint, (point) => {
        const before = outcome(() => legacyToLineProtocol(point));
        expect(outcome(() => toLineProtocol(point))).toEqual(before);
        if ('line' in before) {
          written++;
          const encoded = encodePoint(point);
          expect(encoded.key).toBe(legacyLineKey(before.line));
          // A delete of the point names the same identity as its write.
          expect(pointKey(point)).toBe(encoded.key);
        }
      }),
      { seed: 20261202, numRuns: 5000 },
    );
    // Most points must be writable, or the comparison would mostly be of refusals.
    expect(written).toBeGreaterThan(2000);
  });

  it.each([
    ['tags and fields out of order', { measurement: 'telemetry_10s', tags: { site: 'north', device: 'd1', metric: 'temp' }, fields: { p99: 1.5, count: { int: 3 }, first: 0.1 }, timeMs: 1 }],
    ['every escaped character in every position', { measurement: 'm, \n\r\t=', tags: { 'k, =\n\r\t': 'v, =\n\r\t' }, fields: { 'f, =\n\r\t': 's"\\, =\n' }, timeMs: 2 }],
    ['backslashes that escape nothing', { measurement: 'a\\b', tags: { 'k\\x': 'v\\\\y' }, fields: { 'f\\g': 'x\\' }, timeMs: 3 }],
    ['an empty tag key and empty tag values', { measurement: 'm', tags: { '': 'x', a: '', b: 'y' }, fields: { v: 1 }, timeMs: 4 }],
    ['an unnamed field beside a named one', { measurement: 'm', tags: {}, fields: { '': 1, v: 2 }, timeMs: 5 }],
    ['only an unnamed field', { measurement: 'm', tags: {}, fields: { '': 1 }, timeMs: 6 }],
    ['floats at the edges of exactness', { measurement: 'm', tags: {}, fields: { a: 0.1 + 0.2, b: -0, c: 5e-324, d: Number.MAX_VALUE, e: 1e21, f: 1e-7, g: 2 ** 53 + 2 }, timeMs: 7 }],
    ['integers at the edges', { measurement: 'm', tags: {}, fields: { a: { int: -0 }, b: { int: Number.MAX_SAFE_INTEGER }, c: { int: Number.MIN_SAFE_INTEGER } }, timeMs: -8 }],
    ['numeric-looking names (object key order puts them first)', { measurement: 'm', tags: { '10': 'a', '2': 'b', x: 'c' }, fields: { '1': 1, z: 2, '0': { int: 1 } }, timeMs: 9 }],
    ['a NaN field after an invalid name', { measurement: 'm', tags: {}, fields: { 'x\\': 1, y: Number.NaN }, timeMs: 10 }],
  ] as [string, SinkPoint][])('agrees with the old formatter on %s', (_what, point) => {
    expect(outcome(() => toLineProtocol(point))).toEqual(outcome(() => legacyToLineProtocol(point)));
  });
});
