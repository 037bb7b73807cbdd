/** `sluice cluster status`: what the members and leases buckets hold right now, as plain data for the CLI to print. */
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ClusterConfig } from './config.js';
import { ClusterNotFoundError } from './errors.js';
import { bucketSubjects, currentEntries } from './kv-entries.js';
import { decodeLease, partitionOfKey } from './lease-value.js';
import type { MemberHeartbeat } from './membership.js';

export interface MemberStatus {
  id: string;
  /** Seconds since the member's newest heartbeat was stored (server time). */
  heartbeatAgeSeconds: number;
  /** The member's own start time, as it wrote it. */
  startedAt?: number;
  heartbeatSeq?: number;
}

export interface PartitionLeaseStatus {
  partition: number;
  /** Undefined: released or never held. */
  holder?: string;
  epoch?: number;
  /** Seconds since the lease was last written (server time). */
  ageSeconds?: number;
}

export interface ClusterStatus {
  members: MemberStatus[];
  /** One row per partition key found, ascending; partitions never leased are absent. */
  leases: PartitionLeaseStatus[];
}

/**
 * Reads both buckets once; ages use the server's timestamps against this machine's clock.
 * ClusterNotFoundError when a bucket is missing (no cluster has run on this NATS).
 */
export async function readClusterStatus(connection: NatsConnection, config: Pick<ClusterConfig, 'membersBucket' | 'leasesBucket'>): Promise<ClusterStatus> {
  const js = jetstream(connection);
  const jsm = await js.jetstreamManager();
  // Binding to a missing bucket succeeds; only its first read fails, with a message about a stream. Say what is missing instead.
  // The same request lists the keys, without the consumer kv.keys() would create (see kv-entries.ts).
  const subjects: string[][] = [];
  for (const [bucket, key] of [[config.membersBucket, 'cluster.membersBucket'], [config.leasesBucket, 'cluster.leasesBucket']] as const) {
    const found = await bucketSubjects(jsm, bucket);
    if (found === undefined) throw new ClusterNotFoundError(bucket, key);
    subjects.push(found);
  }
  const kvm = new Kvm(js);
  const [members, leases] = await Promise.all([kvm.open(config.membersBucket), kvm.open(config.leasesBucket)]);
  const [memberEntries, leaseEntries] = await Promise.all([currentEntries(members, config.membersBucket, subjects[0]!), currentEntries(leases, config.leasesBucket, subjects[1]!)]);
  const now = Date.now();
  const memberRows: MemberStatus[] = [];
  for (const entry of memberEntries) {
    let heartbeat: Partial<MemberHeartbeat> = {};
    try {
      heartbeat = entry.json<MemberHeartbeat>();
    } catch {
      // a stranger's value: show the key and age only
    }
    memberRows.push({ id: entry.key, heartbeatAgeSeconds: (now - entry.created.getTime()) / 1000, startedAt: heartbeat.startedAt, heartbeatSeq: heartbeat.seq });
  }
  const leaseRows: PartitionLeaseStatus[] = [];
  for (const entry of leaseEntries) {
    const partition = partitionOfKey(entry.key);
    if (partition === undefined) continue;
    try {
      const value = decodeLease(entry.key, entry.value);
      leaseRows.push({ partition, holder: value.holder, epoch: value.epoch, ageSeconds: (now - entry.created.getTime()) / 1000 });
    } catch {
      leaseRows.push({ partition, ageSeconds: (now - entry.created.getTime()) / 1000 });
    }
  }
  return { members: memberRows.sort((a, b) => (a.id < b.id ? -1 : 1)), leases: leaseRows.sort((a, b) => a.partition - b.partition) };
}
