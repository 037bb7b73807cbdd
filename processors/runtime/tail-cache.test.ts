import { describe, expect, it } from 'vitest';
import { allocateTailCache, TailCacheReader, TailCacheWriter, type TailCacheMemory } from './tail-cache.js';

function cache(partitions: number, totalBytes: number): { memory: TailCacheMemory; writer: TailCacheWriter; reader: TailCacheReader } {
  const memory = allocateTailCache(partitions, totalBytes)!;
  return { memory, writer: new TailCacheWriter(memory), reader: new TailCacheReader(memory) };
}

function payload(offset: number, length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (offset * 31 + i) & 0xff);
}

/** A seeded generator, so a failure repeats. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('TailCache', () => {
  it('is off below 1 KiB a partition', () => {
    expect(allocateTailCache(64, 0)).toBeUndefined();
    expect(allocateTailCache(64, 32 * 1024)).toBeUndefined();
    expect(allocateTailCache(64, 64 * 1024)?.bytesPerPartition).toBe(1024);
  });

  it('reads back exactly the newest records of each partition as the rings wrap, and misses evicted ones', () => {
    const { memory, writer, reader } = cache(3, 3 * 4096);
    const next = random(7);
    const written: Map<number, Uint8Array>[] = [new Map(), new Map(), new Map()];
    const ends = [0, 0, 0];
    for (let step = 0; step < 5000; step++) {
      const partition = Math.floor(next() * 3);
      const offset = ends[partition]!++;
      const bytes = payload(offset, Math.floor(next() * 600));
      writer.put(partition, offset, bytes);
      written[partition]!.set(offset, bytes);
      if (step % 7 !== 0) continue;
      // Every offset still cached reads back whole; the cached ones run up to the end without a hole.
      for (let p = 0; p < 3; p++) {
        const end = ends[p]!;
        let first = end;
        while (first > 0 && reader.read(p, first - 1, 1) !== undefined) first--;
        if (end > 0) expect(first).toBeLessThan(end);
        let ringBytes = 0;
        for (let o = first; o < end; o++) ringBytes += written[p]!.get(o)!.byteLength;
        expect(ringBytes).toBeLessThanOrEqual(memory.bytesPerPartition);
        // Evicts only for room: at most a record's worth left at the ring's end and one being overwritten.
        if (first > 0) expect(ringBytes + 2 * 600).toBeGreaterThanOrEqual(memory.bytesPerPartition);
        for (let o = Math.max(0, first - 20); o < first; o++) expect(reader.read(p, o, 10)).toBeUndefined();
        const all = reader.read(p, first, 1_000_000) ?? [];
        expect(all.map((r) => r.offset)).toEqual(Array.from({ length: end - first }, (_, i) => first + i));
        const mismatched = all.filter((r) => Buffer.compare(r.payload, written[p]!.get(r.offset)!) !== 0).map((r) => r.offset);
        expect(mismatched).toEqual([]);
      }
    }
  });

  it('keeps records across several laps of the ring while they still fit', () => {
    const { writer, reader } = cache(1, 4096);
    for (let offset = 0; offset < 100; offset++) writer.put(0, offset, payload(offset, 100));
    // 4096 bytes hold 40 records of 100; the last lap may leave a gap at the ring's end.
    const records = reader.read(0, 70, 100)!;
    expect(records.map((r) => r.offset)).toEqual(Array.from({ length: 30 }, (_, i) => 70 + i));
    expect(records.every((r) => r.payload.byteLength === 100)).toBe(true);
    expect(reader.read(0, 50, 1)).toBeUndefined();
    expect(reader.read(0, 100, 1)).toBeUndefined();
    expect(reader.read(0, 99, 5)!.map((r) => r.offset)).toEqual([99]);
  });

  it('starts afresh after an offset out of sequence, and does not cache a record too large for its ring', () => {
    const { writer, reader } = cache(2, 2 * 4096);
    writer.put(1, 10, payload(10, 5));
    writer.put(1, 11, payload(11, 5));
    writer.put(1, 20, payload(20, 5)); // a gap: 12–19 were never cached
    expect(reader.read(1, 10, 5)).toBeUndefined();
    expect(reader.read(1, 20, 5)!.map((r) => r.offset)).toEqual([20]);
    writer.put(1, 21, payload(21, 2000)); // over a quarter of the ring
    expect(reader.read(1, 20, 5)).toBeUndefined();
    expect(reader.read(1, 21, 5)).toBeUndefined();
    writer.put(1, 22, payload(22, 7));
    expect(reader.read(1, 22, 5)!.map((r) => [r.offset, r.payload.byteLength])).toEqual([[22, 7]]);
    expect(reader.read(0, 0, 5)).toBeUndefined();
  });

  it('holds no more records than it has slots, however small they are', () => {
    const memory = allocateTailCache(1, 1024 * 1024)!;
    const writer = new TailCacheWriter(memory);
    const reader = new TailCacheReader(memory);
    const total = memory.slots + 100;
    for (let offset = 0; offset < total; offset++) writer.put(0, offset, payload(offset, 1));
    expect(reader.read(0, total - memory.slots, 1)!.map((r) => r.offset)).toEqual([total - memory.slots]);
    expect(reader.read(0, total - memory.slots - 1, 1)).toBeUndefined();
    const last = reader.read(0, total - 1, 1)![0]!;
    expect(last.payload).toEqual(payload(total - 1, 1));
  });

  it('misses rather than answer while the writer is changing the partition', () => {
    const { memory, writer, reader } = cache(2, 2 * 4096);
    writer.put(0, 0, payload(0, 10));
    const seq = new Int32Array(memory.buffer, 0, 2);
    Atomics.add(seq, 0, 1); // what a writer does before it touches partition 0
    expect(reader.read(0, 0, 1)).toBeUndefined();
    expect(reader.read(1, 0, 1)).toBeUndefined();
    Atomics.add(seq, 0, 1);
    expect(reader.read(0, 0, 1)!.map((r) => r.offset)).toEqual([0]);
  });

  it('gives each read its own copy, which later writes do not change', () => {
    const { writer, reader } = cache(1, 4096);
    writer.put(0, 0, payload(0, 1000));
    const copy = reader.read(0, 0, 1)![0]!.payload;
    for (let offset = 1; offset < 20; offset++) writer.put(0, offset, payload(offset, 1000));
    expect(copy).toEqual(payload(0, 1000));
  });
});
