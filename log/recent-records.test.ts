import { describe, expect, it } from 'vitest';
import { RecentRecords } from './recent-records.js';

const bytes = (n: number, fill = n): Uint8Array => new Uint8Array(n).fill(fill);
const offsets = (records: { offset: number }[] | undefined): number[] | undefined => records?.map((r) => r.offset);

describe('RecentRecords', () => {
  it('answers a read from any held offset with the run after it, and nothing outside the run', () => {
    const recent = new RecentRecords(2, 1000);
    for (let o = 10; o < 15; o++) recent.add(1, o, bytes(10, o));
    expect(offsets(recent.read(1, 12, 100))).toEqual([12, 13, 14]);
    expect(offsets(recent.read(1, 10, 2))).toEqual([10, 11]);
    expect(recent.read(1, 13, 1)![0]!.payload).toEqual(bytes(10, 13));
    expect(recent.read(1, 9, 100)).toBeUndefined();
    expect(recent.read(1, 15, 100)).toBeUndefined();
    expect(recent.read(0, 10, 100)).toBeUndefined();
  });

  it('evicts the oldest record overall once over budget, so each partition keeps its newest run', () => {
    const recent = new RecentRecords(2, 100);
    recent.add(0, 0, bytes(40)); // oldest overall
    recent.add(1, 0, bytes(40));
    recent.add(0, 1, bytes(40)); // 120 > 100: partition 0's offset 0 goes
    expect(recent.size).toBe(80);
    expect(recent.read(0, 0, 10)).toBeUndefined();
    expect(offsets(recent.read(0, 1, 10))).toEqual([1]);
    expect(offsets(recent.read(1, 0, 10))).toEqual([0]);
    recent.add(1, 1, bytes(40)); // partition 1's offset 0 goes next
    expect(recent.read(1, 0, 10)).toBeUndefined();
    expect(offsets(recent.read(1, 1, 10))).toEqual([1]);
    expect(recent.size).toBe(80);
  });

  it('starts a partition afresh at an offset that does not follow its run, and keeps its byte count right', () => {
    const recent = new RecentRecords(1, 100);
    recent.add(0, 0, bytes(30));
    recent.add(0, 1, bytes(30));
    recent.add(0, 5, bytes(30));
    expect(recent.size).toBe(30);
    expect(recent.read(0, 0, 10)).toBeUndefined();
    expect(offsets(recent.read(0, 5, 10))).toEqual([5]);
    // The stale eviction entries of the dropped run cost at most early misses, never a wrong record.
    for (let o = 6; o < 12; o++) recent.add(0, o, bytes(30));
    expect(recent.size).toBe(90);
    expect(offsets(recent.read(0, 9, 10))).toEqual([9, 10, 11]);
    expect(recent.read(0, 8, 10)).toBeUndefined();
  });

  it('holds nothing with a zero budget', () => {
    const recent = new RecentRecords(1, 0);
    recent.add(0, 0, bytes(1));
    expect(recent.size).toBe(0);
    expect(recent.read(0, 0, 1)).toBeUndefined();
  });

  it('keeps serving the right records through many evictions (compaction of its arrays)', () => {
    const recent = new RecentRecords(3, 64 * 50);
    for (let o = 0; o < 20_000; o++) for (let p = 0; p < 3; p++) recent.add(p, o, bytes(64, (o + p) & 0xff));
    for (let p = 0; p < 3; p++) {
      const run = recent.read(p, 20_000 - 10, 100)!;
      expect(offsets(run)).toEqual([...Array(10).keys()].map((i) => 19_990 + i));
      run.forEach((r) => expect(r.payload[0]).toBe((r.offset + p) & 0xff));
    }
    expect(recent.size).toBeLessThanOrEqual(64 * 50);
    expect(recent.read(0, 20_000 - 50, 1)).toBeUndefined();
  });
});
