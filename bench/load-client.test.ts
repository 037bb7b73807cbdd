import { describe, expect, it } from 'vitest';
import { ReadingBatch } from '../proto/index.js';
import { fleetPayload, numberPayload, timePayload, withSeqSlot } from './load-client.js';

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

describe('fleetPayload', () => {
  const metrics = ['temperature', 'humidity', 'pressure', 'vibration', 'voltage'];

  it('is one Series per metric whose start times are the slots, each decoding as the time set', () => {
    const p = fleetPayload(metrics, 20, 10, 1_700_000_000_000);
    for (const [seq, ms] of [
      [1, 1_700_000_000_000],
      [2, 1_700_000_000_200],
      [300, 2 ** 48 - 1],
    ] as const) {
      numberPayload(p.payload, seq);
      timePayload(p, ms);
      const decoded = ReadingBatch.toObject(ReadingBatch.decode(p.payload), { longs: Number });
      expect(decoded.seq).toBe(seq);
      expect(decoded.series.map((s: { metric: string }) => s.metric)).toEqual(metrics);
      for (const s of decoded.series as { startUnixMs: number; timeDeltaMs: number[]; values: number[] }[]) {
        expect(s.startUnixMs).toBe(ms);
        expect(s.timeDeltaMs).toEqual(Array.from({ length: 20 }, (_, i) => i * 10));
        expect(s.values).toHaveLength(20);
      }
    }
    expect(p.stepMs).toBe(200);
  });
});
