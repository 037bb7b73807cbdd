export { murmur3 } from './hash.js';
export { keyGroupOf, DEFAULT_PARTITIONS } from './key-groups.js';
export { assignPartitions, partitionsOwnedBy } from './rendezvous.js';
export { parsePartitionSet, formatPartitionSet, PARTITION_SET_PATTERN } from './partition-set.js';
