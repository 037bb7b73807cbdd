/** `sluice cluster status`: what the members and leases buckets hold right now, as plain data for the CLI to print. */
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ClusterConfig } from './config.js';
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

/** Reads both buckets once (they must exist: a cluster has run); ages use the server's timestamps against this machine's clock. */
export async function readClusterStatus(connection: NatsConnection, config: Pick<ClusterConfig, 'membersBucket' | 'leasesBucket'>): Promise<ClusterStatus> {
  const kvm = new Kvm(jetstream(connection));
  const [members, leases] = await Promise.all([kvm.open(config.membersBucket), kvm.open(config.leasesBucket)]);
  const now = Date.now();
  const memberRows: MemberStatus[] = [];
  for (const entry of await entries(members)) {
    let heartbeat: Partial<MemberHeartbeat> = {};
    try {
      heartbeat = entry.json<MemberHeartbeat>();
    } catch {
      // a stranger's value: show the key and age only
    }
    memberRows.push({ id: entry.key, heartbeatAgeSeconds: (now - entry.created.getTime()) / 1000, startedAt: heartbeat.startedAt, heartbeatSeq: heartbeat.seq });
  }
  const leaseRows: PartitionLeaseStatus[] = [];
  for (const entry of await entries(leases)) {
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

/** Every key's current value, deleted keys left out. */
async function entries(kv: KV) {
  const keys: string[] = [];
  for await (const key of await kv.keys()) keys.push(key);
  const found = await Promise.all(keys.map((k) => kv.get(k)));
  return found.filter((e) => e !== null && e.operation === 'PUT').map((e) => e!);
}
