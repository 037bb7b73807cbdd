/**
 * What the bench watches while a run is measured, from outside the processors: the lease
 * holders as NATS holds them (`readClusterStatus`, the same read as `sluice cluster
 * status`), and each live processor's lag gauges from its /metrics.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { readClusterStatus } from '../../cluster/index.js';
import { PARTITIONS, type ProcessorMember } from './cluster.js';

/** The default bucket names (the bench does not set others). */
const BUCKETS = { membersBucket: 'SLUICE_MEMBERS', leasesBucket: 'SLUICE_LEASES' };
const LAG_GAUGE = /^sluice_processor_lag_records\{partition="(\d+)"\} (\S+)$/gm;

/** Reads the lease holders over one NATS connection kept for the whole bench. */
export class LeaseView {
  private reads = 0;
  private readMs = 0;
  private constructor(private readonly connection: NatsConnection) {}

  /** The mean time one holders() read took: the resolution of every figure taken from the holders, beside the poll interval. */
  get meanReadMs(): number {
    return this.reads === 0 ? 0 : Math.round(this.readMs / this.reads);
  }

  static async open(servers: string[]): Promise<LeaseView> {
    return new LeaseView(await connect({ servers, name: 'bench-failover-observer' }));
  }

  /** The holder of each partition (undefined: released, expired-and-free, or never leased). */
  async holders(): Promise<(string | undefined)[]> {
    const started = performance.now();
    const status = await readClusterStatus(this.connection, BUCKETS);
    this.reads++;
    this.readMs += performance.now() - started;
    const out: (string | undefined)[] = new Array(PARTITIONS).fill(undefined);
    for (const lease of status.leases) out[lease.partition] = lease.holder;
    return out;
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}

/** Every partition held by one of `members`. */
export function allHeldBy(holders: readonly (string | undefined)[], members: readonly string[]): boolean {
  const live = new Set(members);
  return holders.length === PARTITIONS && holders.every((h) => h !== undefined && live.has(h));
}

/** Every partition held by one of `members`, each holding its share (⌊P/N⌋ or ⌈P/N⌉, as the balancer's assignment gives). */
export function balanced(holders: readonly (string | undefined)[], members: readonly string[]): boolean {
  if (!allHeldBy(holders, members)) return false;
  const low = Math.floor(PARTITIONS / members.length);
  const high = Math.ceil(PARTITIONS / members.length);
  return members.every((m) => {
    const held = holders.filter((h) => h === m).length;
    return held >= low && held <= high;
  });
}

/** One reading of the lag: the sum over partitions, and whether every partition was reported by some live processor. */
export interface LagSample {
  at: number;
  records: number;
  /** Partitions no live processor has a task for (the dead member's, or ones being handed over): their backlog is unknown. */
  uncovered: number;
}

/**
 * Sums `sluice_processor_lag_records` over `processors`' /metrics. A processor that does
 * not answer (killed, or not listening yet) contributes nothing, so its partitions count
 * as uncovered; a partition two processors report for a moment counts once, at the higher.
 */
export async function sampleLag(processors: readonly ProcessorMember[]): Promise<LagSample> {
  const byPartition = new Map<number, number>();
  await Promise.all(
    processors.map(async (p) => {
      const text = await fetch(`http://127.0.0.1:${p.child.ports.http}/metrics`, { signal: AbortSignal.timeout(2000) })
        .then((res) => (res.ok ? res.text() : ''))
        .catch(() => '');
      for (const [, partition, value] of text.matchAll(LAG_GAUGE)) {
        const n = Number(partition);
        byPartition.set(n, Math.max(byPartition.get(n) ?? 0, Number(value)));
      }
    }),
  );
  let records = 0;
  for (const v of byPartition.values()) records += v;
  return { at: performance.now(), records, uncovered: PARTITIONS - byPartition.size };
}
