import { SluiceError } from '../core/index.js';

/**
 * Every error the cluster component raises on purpose, each with a stable SLUICE_CLUSTER_
 * code (config problems are core's ConfigError). Append only: codes are what operators
 * and callers match on.
 */

/** NATS did not answer the cluster's requests in time (no connection, no leader for a bucket); the same call may succeed later. */
export class ClusterUnavailableError extends SluiceError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SLUICE_CLUSTER_UNAVAILABLE', message, { ...options, canRetry: true });
  }
}

/** A Membership, PartitionLeases or PartitionBalancer was used after it was stopped. */
export class ClusterStoppedError extends SluiceError {
  constructor(what: string) {
    super('SLUICE_CLUSTER_STOPPED', `${what}: already stopped; create a new one to rejoin the cluster`);
  }
}

/** A lease value in the leases bucket is not what this version writes (another program, or damage). */
export class LeaseCorruptError extends SluiceError {
  constructor(key: string, detail: string) {
    super('SLUICE_CLUSTER_LEASE_CORRUPT', `lease ${key}: ${detail}; delete the key (nats kv del) and the members will recreate it`);
  }
}

/** The cluster's buckets are not on this NATS: no processor has joined a cluster there yet (or the config names other buckets). */
export class ClusterNotFoundError extends SluiceError {
  constructor(bucket: string, key: string) {
    super('SLUICE_CLUSTER_NOT_FOUND', `KV bucket ${bucket} is not on this NATS: no processor has joined a cluster here yet (start sluice processor without processors.partitions), or set ${key} to the bucket the processors use`, {
      canRetry: true,
    });
  }
}
