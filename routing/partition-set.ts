import { ConfigError } from '../core/errors.js';

/** A partition set as written in the config or on the command line: ranges and single partitions, e.g. "0-31" or "0-7,16,40-47". */
export const PARTITION_SET_PATTERN = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/**
 * The partitions `spec` names, ascending and without repeats, each checked against the
 * partition count; ConfigError says which part is wrong and what to write instead.
 */
export function parsePartitionSet(spec: string, partitions: number, source = 'processors.partitions'): number[] {
  const text = spec.replace(/\s+/g, '');
  if (!PARTITION_SET_PATTERN.test(text)) throw new ConfigError(`${source}: expected ranges like "0-31" or "0-7,16,40-47" (got ${JSON.stringify(spec)})`);
  const chosen = new Set<number>();
  for (const part of text.split(',')) {
    const [from, to = from] = part.split('-').map(Number) as [number, number?];
    if (to < from) throw new ConfigError(`${source}: range "${part}" ends before it starts; write it low-high (got ${JSON.stringify(spec)})`);
    if (to >= partitions) throw new ConfigError(`${source}: partition ${to} does not exist: there are ${partitions} (0-${partitions - 1}); the partitions setting fixes how many (got ${JSON.stringify(spec)})`);
    for (let p = from; p <= to; p++) chosen.add(p);
  }
  return [...chosen].sort((a, b) => a - b);
}

/** The inverse of parsePartitionSet: `partitions` (any order) written as ranges, e.g. [0, 1, 2, 7] → "0-2,7"; "" for none. */
export function formatPartitionSet(partitions: readonly number[]): string {
  const sorted = [...new Set(partitions)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(j === i ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
