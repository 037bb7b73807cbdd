/**
 * PartitionBalancer: shares the partitions among the live members with no coordinator.
 * Every member computes the same sticky, load-bounded rendezvous assignment
 * (routing/rendezvous.ts) from its view of the live members and the lease holders, on
 * every membership change and every heartbeatInterval, and acts only on its own part:
 *
 * - a partition desired for it and free (released, never held, or its holder's lease
 *   expired) → acquire the lease → host.assign (afterFailure when the holder had not
 *   released it: the host waits out the old holder's last writes);
 * - a partition it holds but desired for another live member → host.revoke (final
 *   checkpoint) → release the lease, which the new owner then creates;
 * - a lease lost to another member → host.abandon at once.
 *
 * Views may differ for a moment; the leases' compare-and-set keeps every partition with
 * one holder meanwhile. Host calls run one at a time, in order, so a partition is never
 * revoked or abandoned while the host is still taking it on.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import type { Logger } from '../core/index.js';
import { assignPartitions } from '../routing/index.js';
import { createClusterMetrics, type ClusterMetrics } from './cluster-metrics.js';
import { ClusterStoppedError } from './errors.js';
import type { Membership } from './membership.js';
import type { PartitionLeases } from './partition-leases.js';

/** What the balancer drives: the processor that takes partitions on and gives them up. */
export interface PartitionHost {
  /** Take p on (claim its checkpoint epoch, restore, process). afterFailure: the previous holder did not release it (it died or was cut off): the host waits a grace period before writing. */
  assign(p: number, opts: { afterFailure: boolean }): Promise<void>;
  /** Graceful handoff: final checkpoint of p, then stop it. */
  revoke(p: number): Promise<void>;
  /** revoke() of several partitions with one final checkpoint round (optional: a join or a SIGTERM hands many over at once). */
  revokeMany?(ps: readonly number[]): Promise<void>;
  /** The lease was lost: stop p at once, no checkpoint, drop its unwritten output. */
  abandon(p: number): Promise<void>;
}

export interface PartitionBalancerOptions {
  partitions: number;
  membership: Membership;
  leases: PartitionLeases;
  host: PartitionHost;
  registry: Registry;
  /** How often to rebalance without a membership change (cluster.heartbeatInterval). */
  interval: number;
  logger?: Logger;
}

export class PartitionBalancer extends EventEmitter<{ hostFailed: [err: Error, partition: number] }> {
  /** Partitions the host has finished taking on and not given up. */
  private readonly assigned = new Set<number>();
  private readonly metrics: ClusterMetrics;
  /** The tail of the host calls and rebalancing rounds: one at a time. */
  private queue: Promise<void> = Promise.resolve();
  private roundQueued = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private started = false;
  private readonly onChange = (): void => this.requestRound();
  private readonly onLost = (p: number): void => this.lost(p);

  constructor(private readonly options: PartitionBalancerOptions) {
    super();
    const { leases, partitions } = options;
    const assigned = this.assigned;
    this.metrics = createClusterMetrics(options.registry, {
      *leaseAge() {
        for (let p = 0; p < partitions; p++) {
          const age = leases.leaseAge(p);
          if (age !== undefined) yield [p, age];
        }
      },
      *owned() {
        for (let p = 0; p < partitions; p++) yield [p, assigned.has(p) ? 1 : 0];
      },
    });
  }

  /** Starts rebalancing: at once, then on every membership change and every interval. */
  start(): void {
    if (this.stopped) throw new ClusterStoppedError('partition balancer');
    if (this.started) return;
    this.started = true;
    this.options.membership.on('change', this.onChange);
    this.options.leases.on('lost', this.onLost);
    // A lease expires when the clock advances: look at once, not up to an interval later.
    this.options.leases.clock.on('advance', this.onChange);
    this.requestRound();
    this.tick();
  }

  /** The partitions the host has taken on, ascending. */
  owned(): number[] {
    return [...this.assigned].sort((a, b) => a - b);
  }

  /** Resolves once every queued rebalancing round and host call has finished (for tests and status). */
  async settled(): Promise<void> {
    let tail: Promise<void>;
    do {
      tail = this.queue;
      await tail;
    } while (tail !== this.queue);
  }

  /** Graceful stop (SIGTERM): revokes and releases every partition, then leaves, so others take them without waiting for the leases to expire. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.halting();
    await this.enqueue(async () => {
      const all = this.owned();
      if (all.length > 0) await this.handOff(all);
    });
    await this.options.leases.close();
    await this.options.membership.leave();
  }

  /** Stops at once without revoking, releasing or leaving: to the others this member crashed (tests, and a fatal error's path). */
  async halt(): Promise<void> {
    if (this.stopped) return;
    this.halting();
    await Promise.all([this.options.leases.close(), this.options.membership.close()]);
    await this.queue;
  }

  private halting(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.options.membership.off('change', this.onChange);
    this.options.leases.off('lost', this.onLost);
    this.options.leases.clock.off('advance', this.onChange);
  }

  private tick(): void {
    this.timer = setTimeout(() => {
      this.requestRound();
      this.tick();
    }, this.options.interval);
  }

  /** Queues a rebalancing round unless one is already waiting (it will see the newest state). */
  private requestRound(): void {
    if (this.stopped || this.roundQueued) return;
    this.roundQueued = true;
    void this.enqueue(async () => {
      this.roundQueued = false;
      if (!this.stopped) await this.round();
    });
  }

  private lost(partition: number): void {
    this.metrics.leasesLost.inc();
    void this.enqueue(async () => {
      if (!this.assigned.delete(partition)) return;
      this.metrics.partitionsOwned.set(this.assigned.size);
      await this.options.host.abandon(partition).catch((err: unknown) => this.emit('hostFailed', err as Error, partition));
    });
  }

  private async round(): Promise<void> {
    const { membership, leases, host, partitions } = this.options;
    const me = membership.memberId;
    const live = membership.live();
    this.metrics.members.set(live.length);
    const desired = assignPartitions(partitions, live, leases.holders());
    let moved = false;
    // Give away first, all at once (one final checkpoint round): the new owners can create the released leases while we take ours.
    const give = this.owned().filter((p) => desired[p] !== me && leases.holds(p));
    if (give.length > 0 && !this.stopped) {
      await this.handOff(give);
      moved = true;
    }
    // Acquire all at once (a failover takes many), then take them on one at a time.
    const wanted = desired.flatMap((owner, p) => (owner === me && !this.assigned.has(p) && (leases.holds(p) || leases.canAcquire(p)) ? [p] : []));
    const acquired = await Promise.all(wanted.map(async (p) => (leases.holds(p) || (await leases.acquire(p)) ? p : undefined)));
    for (const p of acquired) {
      if (this.stopped) return;
      if (p === undefined) continue;
      try {
        const afterFailure = leases.tookOver(p);
        await host.assign(p, { afterFailure });
        if (afterFailure) this.metrics.partitionsTakenOver.inc();
        this.assigned.add(p);
        this.metrics.partitionsOwned.set(this.assigned.size);
        moved = true;
      } catch (err) {
        // Let another member try it rather than hold a partition nobody processes.
        this.emit('hostFailed', err as Error, p);
        await leases.release(p);
      }
    }
    if (moved) this.metrics.rebalances.inc();
  }

  /** Revoke → release, timed: the partitions together when the host can revoke several at once. */
  private async handOff(give: readonly number[]): Promise<void> {
    const start = performance.now();
    const { host, leases } = this.options;
    try {
      if (host.revokeMany !== undefined) await host.revokeMany(give);
      else for (const p of give) await host.revoke(p);
    } catch (err) {
      for (const p of give) this.emit('hostFailed', err as Error, p);
    }
    for (const p of give) this.assigned.delete(p);
    this.metrics.partitionsOwned.set(this.assigned.size);
    await Promise.all(give.map((p) => leases.release(p)));
    const seconds = (performance.now() - start) / 1000;
    for (let i = 0; i < give.length; i++) this.metrics.handoffSeconds.observe(seconds);
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task).catch((err: unknown) => {
      this.options.logger?.error({ err }, 'rebalancing failed; the next round retries');
    });
    this.queue = run;
    return run;
  }
}
