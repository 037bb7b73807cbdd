import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The cluster's Prometheus metrics; `leaseAge` is read from the leases at scrape time. */
export function createClusterMetrics(registry: Registry, leaseAge: () => Iterable<[partition: number, seconds: number]>) {
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
        for (const [partition, seconds] of leaseAge()) this.set({ partition: String(partition) }, seconds);
      },
    }),
    leasesLost: new Counter({ name: 'sluice_cluster_leases_lost_total', help: 'Leases another member took while this processor held them (it was cut off or too slow to renew)', registers }),
  };
}

export type ClusterMetrics = ReturnType<typeof createClusterMetrics>;
