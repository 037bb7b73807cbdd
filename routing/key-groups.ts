import { murmur3 } from './hash.js';

/** Default number of key groups (= log partitions), fixed when a cluster is created. */
export const DEFAULT_PARTITIONS = 64;

/**
 * The key group (log partition) a device belongs to: murmur3(deviceId) mod partitions.
 * Like Flink's max parallelism, the count must not change once data exists.
 */
export function keyGroupOf(deviceId: string, partitions: number): number {
  return murmur3(deviceId) % partitions;
}
