import { describe, expect, it } from 'vitest';
import { assignPartitions, keyGroupOf, murmur3 } from './index.js';

function loads(owners: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const o of owners) counts.set(o, (counts.get(o) ?? 0) + 1);
  return counts;
}

describe('murmur3', () => {
  it('matches the reference vectors of MurmurHash3_x86_32', () => {
    expect(murmur3('')).toBe(0);
    expect(murmur3('', 1)).toBe(0x514e28b7);
    expect(murmur3('hello')).toBe(0x248bfa47);
    expect(murmur3('The quick brown fox jumps over the lazy dog')).toBe(0x2e4ff723);
  });
});

describe('keyGroupOf', () => {
  it('is stable and spreads devices over all partitions', () => {
    const counts = new Array<number>(64).fill(0);
    for (let i = 0; i < 64_000; i++) counts[keyGroupOf(`device-${i}`, 64)]!++;
    expect(keyGroupOf('device-42', 64)).toBe(keyGroupOf('device-42', 64));
    expect(Math.min(...counts)).toBeGreaterThan(850);
    expect(Math.max(...counts)).toBeLessThan(1150);
  });
});

describe('assignPartitions', () => {
  it('balances 64 partitions over 4 nodes within 10 %', () => {
    for (let trial = 0; trial < 50; trial++) {
      const members = [0, 1, 2, 3].map((i) => `node-${trial}-${i}`);
      const counts = [...loads(assignPartitions(64, members)).values()];
      expect(counts).toHaveLength(4);
      expect(Math.max(...counts) / Math.min(...counts)).toBeLessThanOrEqual(1.1);
    }
  });

  it('moves at most 1/5 + 5 % of partitions when a 5th node joins, and only to it', () => {
    for (let trial = 0; trial < 50; trial++) {
      const members = [0, 1, 2, 3].map((i) => `node-${trial}-${i}`);
      const before = assignPartitions(64, members);
      const joined = `node-${trial}-4`;
      const after = assignPartitions(64, [...members, joined], before);
      const moved = before.filter((owner, p) => owner !== after[p]);
      expect(moved.length / 64).toBeLessThanOrEqual(1 / 5 + 0.05);
      for (let p = 0; p < 64; p++) {
        if (before[p] !== after[p]) expect(after[p]).toBe(joined);
      }
    }
  });

  it('moves only the leaver\'s partitions when a node leaves, and stays balanced', () => {
    const members = ['a', 'b', 'c', 'd', 'e'];
    const before = assignPartitions(64, members);
    const after = assignPartitions(64, ['a', 'b', 'd', 'e'], before);
    for (let p = 0; p < 64; p++) if (before[p] !== 'c') expect(after[p]).toBe(before[p]);
    expect([...loads(after).values()].sort()).toEqual([16, 16, 16, 16]);
  });

  it('moves partitions only to a joiner when old members see each other\'s releases late (a handover takes a while)', () => {
    for (let trial = 0; trial < 50; trial++) {
      const [a, b, j] = ['a', 'b', 'j'].map((m) => `node-${trial}-${m}`) as [string, string, string];
      const all = [a, b, j];
      const start: (string | undefined)[] = assignPartitions(64, [a, b]);
      let holders = [...start];
      // What `me` gives away and wants, from the holders it sees now (PartitionBalancer.round).
      const plan = (me: string): { give: number[]; want: number[] } => {
        const desired = assignPartitions(64, all, holders);
        return {
          give: holders.flatMap((h, p) => (h === me && desired[p] !== me ? [p] : [])),
          want: desired.flatMap((owner, p) => (owner === me && holders[p] === undefined ? [p] : [])),
        };
      };
      const release = (give: number[]): void => give.forEach((p) => (holders[p] = undefined));
      const take = (me: string, want: number[]): void => want.forEach((p) => holders[p] === undefined && (holders[p] = me));
      // Both old members see the joiner at once (a tie: 32 each); one's handover ends first while the
      // other's is still under way; then the first looks again, and again once the other's releases are in.
      for (const [first, second] of [[a, b], [b, a]] as const) {
        holders = [...start];
        const secondPlan = plan(second);
        release(plan(first).give);
        release(plan(first).give);
        release(secondPlan.give);
        take(first, plan(first).want);
        for (let round = 0; round < 5; round++) for (const m of [j, a, b]) {
          release(plan(m).give);
          take(m, plan(m).want);
        }
        expect(all.map((m) => holders.filter((h) => h === m).length).sort()).toEqual([21, 21, 22]);
        expect(holders.flatMap((h, p) => (h !== start[p] && h !== j ? [`${p}: ${start[p]} → ${h}`] : []))).toEqual([]);
      }
    }
  });

  it('is independent of member order and duplicates', () => {
    expect(assignPartitions(64, ['b', 'a', 'c'])).toEqual(assignPartitions(64, ['a', 'c', 'b', 'a']));
  });
});
