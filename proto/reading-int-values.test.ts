import { describe, expect, it } from 'vitest';
import { ReadingBatch } from './index.js';
import { readingIntValues } from './reading-int-values.js';
import { wireInt64 } from './testing/wire-int64.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

describe('readingIntValues', () => {
  it('reads each reading’s int_value exactly, in order, past the fields around them', () => {
    const bytes = ReadingBatch.encode({
      seq: 9,
      readings: [
        { metric: 'a', timeUnixMs: 1_700_000_000_000, intValue: wireInt64(9007199254740993n), tags: { k: 'v' } },
        { metric: 'b', doubleValue: 1.5 },
        { metric: 'c', intValue: wireInt64(INT64_MIN) },
        { metric: 'd', intValue: wireInt64(INT64_MAX) },
        { metric: 'e', intValue: -7 },
        { metric: 'f', intValue: wireInt64(-9007199254740993n) },
      ],
      series: [{ metric: 's', startUnixMs: 1, timeDeltaMs: [0, 1], values: [1, 2] }],
    }).finish();
    expect(readingIntValues(bytes)).toEqual([9007199254740993n, undefined, INT64_MIN, INT64_MAX, -7n, -9007199254740993n]);
    // What the generated decoder makes of them: numbers, rounded past 2^53.
    const decoded = ReadingBatch.decode(bytes);
    expect(decoded.readings.map((r) => r.intValue ?? null)).toEqual([2 ** 53, null, -(2 ** 63), 2 ** 63, -7, -(2 ** 53)]);
  });

  it('takes the last int_value of a reading, as the generated decoder does', () => {
    const one = ReadingBatch.encode({ readings: [{ metric: 'a', intValue: 1 }] }).finish();
    const two = ReadingBatch.encode({ readings: [{ intValue: wireInt64(2n ** 60n + 1n) }] }).finish();
    // Two serialisations of a Reading's fields in one message are merged: the later value wins.
    const merged = Uint8Array.from([0x12, one[1]! + two[1]!, ...one.subarray(2), ...two.subarray(2)]);
    expect(readingIntValues(merged)).toEqual([2n ** 60n + 1n]);
    expect(ReadingBatch.decode(merged).readings[0]!.intValue).toBe(2 ** 60);
  });
});
