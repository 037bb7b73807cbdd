import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecordRing, recordRingMemory } from './record-ring.js';

const RING = 256;

const bytesOf = (offset: number, length: number): Uint8Array => Uint8Array.from({ length }, (_, i) => (offset * 31 + i) & 0xff);

describe('RecordRing', () => {
  it('reads back the newest records put, from any offset it holds, at most max', () => {
    const ring = new RecordRing(recordRingMemory(2, RING));
    for (let offset = 0; offset < 5; offset++) ring.put(1, offset, bytesOf(offset, 10));
    expect(ring.read(1, 2, 100)!.map((r) => r.offset)).toEqual([2, 3, 4]);
    expect(ring.read(1, 0, 2)!.map((r) => [r.offset, [...r.payload]])).toEqual([
      [0, [...bytesOf(0, 10)]],
      [1, [...bytesOf(1, 10)]],
    ]);
    expect(ring.read(1, 5, 100)).toBeUndefined(); // not put yet
    expect(ring.read(0, 0, 100)).toBeUndefined(); // another partition's ring is empty
  });

  it('holds a suffix of what was put, whatever the sizes, wraps and gaps: every read is exact or undefined', () => {
    const put = fc.record({ length: fc.integer({ min: 0, max: RING / 2 + 8 }), gap: fc.integer({ min: 0, max: 20 }).map((g) => (g === 0 ? 3 : 0)) });
    fc.assert(
      fc.property(fc.array(put, { minLength: 1, maxLength: 200 }), (puts) => {
        const ring = new RecordRing(recordRingMemory(1, RING));
        const model = new Map<number, Uint8Array>();
        let offset = 7;
        for (const p of puts) {
          offset += p.gap;
          const payload = bytesOf(offset, p.length);
          ring.put(0, offset, payload);
          model.set(offset, payload);
          const fits = 4 + ((p.length + 3) & ~3) <= RING / 2;
          // The newest record is always there unless it is too large to share the ring.
          const head = ring.read(0, offset, 1);
          if (fits) expect(head?.map((r) => [r.offset, [...r.payload]])).toEqual([[offset, [...payload]]]);
          else expect(head).toBeUndefined();
          // From every offset it answers, the records are consecutive, end at the newest, and are the bytes put.
          let held = 0;
          for (let from = offset; from >= offset - 64; from--) {
            const records = ring.read(0, from, 1000);
            if (records === undefined) break;
            held = records.reduce((n, r) => n + 4 + ((r.payload.byteLength + 3) & ~3), 0);
            expect(records.map((r) => r.offset)).toEqual(Array.from({ length: offset - from + 1 }, (_, i) => from + i));
            for (const r of records) expect([...r.payload]).toEqual([...model.get(r.offset)!]);
          }
          expect(held).toBeLessThanOrEqual(RING);
          offset++;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('holds at most 1 024 records however small, and reads from any of them without walking from the oldest', () => {
    const ring = new RecordRing(recordRingMemory(1, 64 * 1024));
    for (let offset = 0; offset < 3000; offset++) ring.put(0, offset, bytesOf(offset, 3));
    expect(ring.read(0, 3000 - 1024, 2)!.map((r) => [r.offset, [...r.payload]])).toEqual([
      [1976, [...bytesOf(1976, 3)]],
      [1977, [...bytesOf(1977, 3)]],
    ]);
    expect(ring.read(0, 3000 - 1025, 1)).toBeUndefined();
    expect(ring.read(0, 2999, 5)!.map((r) => r.offset)).toEqual([2999]);
  });

  it('answers nothing while the writer is changing the partition', () => {
    const memory = recordRingMemory(1, RING);
    const ring = new RecordRing(memory);
    ring.put(0, 0, bytesOf(0, 8));
    const versions = new Int32Array(memory.versions);
    Atomics.add(versions, 0, 1); // as put does before it writes
    expect(ring.read(0, 0, 10)).toBeUndefined();
    Atomics.add(versions, 0, 1);
    expect(ring.read(0, 0, 10)?.length).toBe(1);
  });
});
