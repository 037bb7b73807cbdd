import { describe, expect, it } from 'vitest';
import { formatPartitionSet, parsePartitionSet } from './partition-set.js';

describe('parsePartitionSet', () => {
  it('reads ranges and single partitions, ascending, without repeats', () => {
    expect(parsePartitionSet('0-3', 64)).toEqual([0, 1, 2, 3]);
    expect(parsePartitionSet('40-41, 7,0-1,7', 64)).toEqual([0, 1, 7, 40, 41]);
    expect(parsePartitionSet('63', 64)).toEqual([63]);
  });

  it('refuses a partition that does not exist, a backwards range and anything else, saying what to write', () => {
    expect(() => parsePartitionSet('0-64', 64)).toThrow(/partition 64 does not exist: there are 64 \(0-63\)/);
    expect(() => parsePartitionSet('9-3', 64)).toThrow(/range "9-3" ends before it starts/);
    expect(() => parsePartitionSet('half', 64)).toThrow(/expected ranges like "0-31"/);
    expect(() => parsePartitionSet('', 64)).toThrow(/expected ranges like/);
  });
});

describe('formatPartitionSet', () => {
  it('writes ranges and single partitions that parsePartitionSet reads back', () => {
    expect(formatPartitionSet([])).toBe('');
    expect(formatPartitionSet([7, 0, 1, 2, 2, 40])).toBe('0-2,7,40');
    expect(parsePartitionSet(formatPartitionSet([3, 5, 6, 7, 63]), 64)).toEqual([3, 5, 6, 7, 63]);
  });
});
