import { describe, expect, it } from 'vitest';
import { ReadingBatch } from '../proto/index.js';
import { numberPayload, withSeqSlot } from './load-client.js';

describe('withSeqSlot', () => {
  const rest = ReadingBatch.encode({ readings: [{ metric: 'temperature', timeUnixMs: 1_700_000_000_000, doubleValue: 21.5 }] }).finish();

  it('puts a seq slot in front of a ReadingBatch that decodes with the rest intact', () => {
    expect(ReadingBatch.toObject(ReadingBatch.decode(withSeqSlot(rest)), { longs: Number })).toEqual({
      readings: [{ metric: 'temperature', timeUnixMs: 1_700_000_000_000, doubleValue: 21.5 }],
    });
  });

  it('numbers the slot: each seq up to 2^35 − 1 decodes as itself', () => {
    const payload = withSeqSlot(rest);
    for (const seq of [1, 127, 128, 16_383, 16_384, 1_000_000, 2 ** 32, 2 ** 35 - 1]) {
      numberPayload(payload, seq);
      const decoded = ReadingBatch.toObject(ReadingBatch.decode(payload), { longs: Number });
      expect(decoded.seq).toBe(seq);
      expect(decoded.readings).toHaveLength(1);
    }
  });
});
