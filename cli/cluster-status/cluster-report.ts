/**
 * `sluice cluster status`: who is in the cluster and who owns each partition (the members
 * and leases buckets), and how far each partition's committed checkpoint is behind the
 * log's end. Reads only: nothing here creates a bucket or writes a key.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ClusterUnavailableError, parseClusterConfig, readClusterStatus } from '../../cluster/index.js';
import { ConfigError, SluiceError } from '../../core/index.js';
import { JetStreamLog, natsConnectionOptions, type JetStreamLogConfig } from '../../log/index.js';
import { parseNatsCheckpointConfig, readCommittedOffsets } from '../../processors/index.js';
import type { SluiceConfig } from '../config-schema.js';

export interface MemberReport {
  id: string;
  /** Seconds since its newest heartbeat was stored. */
  heartbeatAgeSeconds: number;
  /** The partitions whose lease it holds, ascending. */
  partitions: number[];
}

export interface PartitionReport {
  partition: number;
  /** The lease holder; null when the lease is released or was never taken. */
  owner: string | null;
  /** Seconds since the lease was last written (renewed); null without a lease. */
  leaseAgeSeconds: number | null;
  /** The next offset to read after restoring its newest committed checkpoint; null when none is committed. */
  checkpointOffset: number | null;
  /** Records in the log from the checkpoint offset on (from the log's start without a checkpoint): what a restore now would replay. */
  lag: number;
}

export interface ClusterReport {
  members: MemberReport[];
  partitions: PartitionReport[];
}

/** How many partitions' lag is asked at once: each is two JetStream requests. */
const LAG_CONCURRENCY = 16;

/** Reads the cluster's state for `config` (log.kind jetstream, else ConfigError); NATS unreachable or silent is ClusterUnavailableError. */
export async function readClusterReport(config: SluiceConfig): Promise<ClusterReport> {
  if (config.log.kind !== 'jetstream' || config.nats === undefined) {
    throw new ConfigError(`sluice cluster status: log.kind is ${config.log.kind}; a cluster runs on log.kind jetstream with a nats section`);
  }
  const nats = config.nats;
  const cluster = parseClusterConfig(config.cluster ?? {});
  const nc = await connectOnce(nats);
  let log: JetStreamLog | undefined;
  try {
    const status = await readClusterStatus(nc, cluster);
    // run-cluster-node opens the checkpoint store with the default bucket names.
    const offsets = await readCommittedOffsets(nc, parseNatsCheckpointConfig({}), config.partitions);
    // The stream exists (members have joined, and each opened the log first): opening it creates nothing.
    log = await JetStreamLog.open({ ...nats, partitions: config.partitions });
    const lags = await mapLimited(offsets, LAG_CONCURRENCY, async (offset, p) => log!.pending(p, offset ?? (await log!.startOffset(p))));
    const leaseOf = new Map(status.leases.map((l) => [l.partition, l]));
    const partitions = offsets.map((offset, p): PartitionReport => {
      const lease = leaseOf.get(p);
      return { partition: p, owner: lease?.holder ?? null, leaseAgeSeconds: lease?.holder === undefined ? null : round(lease.ageSeconds ?? 0), checkpointOffset: offset ?? null, lag: lags[p]! };
    });
    const members = status.members.map((m) => ({ id: m.id, heartbeatAgeSeconds: round(m.heartbeatAgeSeconds), partitions: partitions.filter((r) => r.owner === m.id).map((r) => r.partition) }));
    return { members, partitions };
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    throw new ClusterUnavailableError(`NATS at ${nats.servers.join(', ')} did not answer the cluster status requests: ${(err as Error).message}`, { cause: err });
  } finally {
    await log?.close().catch(() => undefined);
    await nc.close().catch(() => undefined);
  }
}

/** One connection attempt, not the processes' reconnect-for-ever: a status command answers now or says why not. */
async function connectOnce(nats: JetStreamLogConfig): Promise<NatsConnection> {
  try {
    return await connect({ ...natsConnectionOptions(nats), name: 'sluice-cluster-status', maxReconnectAttempts: 0, timeout: 5_000 });
  } catch (err) {
    throw new ClusterUnavailableError(`cannot connect to NATS at ${nats.servers.join(', ')}: ${(err as Error).message}; check nats.servers and the credentials`, { cause: err });
  }
}

/** `fn` over `items` with at most `limit` running at once; results in order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Tenths of a second are all an operator reads off an age. */
function round(seconds: number): number {
  return Math.round(seconds * 10) / 10;
}
