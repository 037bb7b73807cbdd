import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What the per-partition gauges read at scrape time, so they never go stale between rounds. */
export interface ClusterMetricSources {
  /** Seconds since each partition's lease was last written, for the partitions with a lease. */
  leaseAge: () => Iterable<[partition: number, seconds: number]>;
  /** Every partition with 1 when this processor owns it (holds its lease and has taken it on), else 0. */
  owned: () => Iterable<[partition: number, owned: 0 | 1]>;
}

/** The cluster's Prometheus metrics; the per-partition gauges are read from `sources` at scrape time. */
export function createClusterMetrics(registry: Registry, sources: ClusterMetricSources) {
  const registers = [registry];
  return {
    members: new Gauge({ name: 'sluice_cluster_members', help: 'Live members as this processor sees them (itself included)', registers }),
    partitionsOwned: new Gauge({ name: 'sluice_cluster_partitions_owned', help: 'Partitions this processor holds and has taken on', registers }),
    rebalances: new Counter({ name: 'sluice_cluster_rebalances_total', help: 'Rebalancing rounds that moved at least one partition to or from this processor', registers }),
    handoffSeconds: new Histogram({
      name: 'sluice_cluster_handoff_seconds',
      help: 'Graceful handoff of one partition: final checkpoint, stop, lease release',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    leaseAge: new Gauge({
      name: 'sluice_cluster_lease_age_seconds',
      help: "Seconds since each partition's lease was last written, as this processor saw it (its own renewals for its own leases)",
      labelNames: ['partition'] as const,
      registers,
      collect() {
        this.reset();
        for (const [partition, seconds] of sources.leaseAge()) this.set({ partition: String(partition) }, seconds);
      },
    }),
    // 0 as well as 1, for every partition: a partition that moves away shows 0 here at once
    // rather than a series that stops, so "who owns p" is the member reporting 1 now.
    partitionOwned: new Gauge({
      name: 'sluice_cluster_partition_owned',
      help: 'Per partition, 1 while this processor owns it (holds the lease and has taken it on), else 0',
      labelNames: ['partition'] as const,
      registers,
      collect() {
        this.reset();
        for (const [partition, owned] of sources.owned()) this.set({ partition: String(partition) }, owned);
      },
    }),
    partitionsTakenOver: new Counter({
      name: 'sluice_cluster_partitions_taken_over_total',
      help: 'Partitions this processor took on from a holder that had not released them (it died or was cut off): a failover, not a handoff',
      registers,
    }),
    leasesLost: new Counter({ name: 'sluice_cluster_leases_lost_total', help: 'Leases another member took while this processor held them (it was cut off or too slow to renew)', registers }),
  };
}

export type ClusterMetrics = ReturnType<typeof createClusterMetrics>;
