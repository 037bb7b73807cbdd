export { clusterConfigSchema, parseClusterConfig, defaultMemberId, type ClusterConfig, type ClusterConfigInput } from './config.js';
export { ClusterUnavailableError, ClusterStoppedError, LeaseCorruptError, ClusterNotFoundError } from './errors.js';
export { HealthClock } from './health-clock.js';
export { Membership, type MembershipOptions, type MemberHeartbeat } from './membership.js';
export { PartitionLeases, type PartitionLeasesOptions } from './partition-leases.js';
export { leaseKey, type LeaseValue } from './lease-value.js';
export { PartitionBalancer, type PartitionBalancerOptions, type PartitionHost } from './partition-balancer.js';
export { readClusterStatus, type ClusterStatus, type MemberStatus, type PartitionLeaseStatus } from './cluster-status.js';
