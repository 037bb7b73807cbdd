/**
 * PartitionLeases: who processes which partition, by compare-and-set on one KV key per
 * partition (`p<n>` → { holder, epoch, renewedAt }) and no coordinator.
 *
 * - acquire: create when the key is absent or deleted (a graceful release), or CAS on
 *   the entry's revision when its holder has been silent for leaseTime: the time since
 *   this observer last saw the revision change, on its HealthClock (counted only while
 *   its own writes land), so an outage or election expires nobody's lease.
 * - renew: every heartbeatInterval, CAS each held lease on its last revision. A conflict
 *   means someone else wrote the key: the lease is lost (`lost` event). A transient
 *   failure keeps the lease, which goes stale.
 * - fence: `isFresh(p)` is true while the last successful acquire/renew of p *started*
 *   less than fenceAfter ago. With fenceAfter < leaseTime − heartbeatInterval the
 *   holder's stale window ends before any observer, which starts counting no earlier
 *   than that write landed, can take the lease over.
 * - release: delete with CAS on our revision: others may create it at once.
 * Operations on one partition run one at a time, so a renewal never races a release.
 */
import { EventEmitter } from 'node:events';
import { JetStreamApiCodes, JetStreamApiError, jetstream } from '@nats-io/jetstream';
import type { KV, KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../core/index.js';
import { isTransientNatsError } from '../log/index.js';
import { openClusterBucket } from './buckets.js';
import type { ClusterConfig } from './config.js';
import { ClusterStoppedError } from './errors.js';
import { HealthClock } from './health-clock.js';
import { KvWatcher } from './kv-watcher.js';
import { decodeLease, encodeLease, leaseKey, partitionOfKey, type LeaseValue } from './lease-value.js';
import { retryUntil } from './retry.js';

export interface PartitionLeasesOptions {
  /** An open connection; PartitionLeases never closes it. */
  connection: NatsConnection;
  config: Pick<ClusterConfig, 'memberId' | 'heartbeatInterval' | 'leaseTime' | 'fenceAfter' | 'leasesBucket'>;
  /** Partition count (leases exist for 0..partitions−1). */
  partitions: number;
  /** Bucket replicas (nats.replicas). */
  replicas: number;
  /** This member's clock, shared with its Membership (whose heartbeats keep it running when no lease is held). */
  clock?: HealthClock;
  logger?: Logger;
  /** How long open() retries NATS before ClusterUnavailableError. Default 30 s. */
  openTimeoutMs?: number;
}

/** A lease key as this member last saw it. */
interface Observed {
  revision: number;
  /** The value of a PUT; undefined after a delete, or for a value that is not a lease. */
  value: LeaseValue | undefined;
  deleted: boolean;
  /** HealthClock stamp when this revision was first seen. */
  seenAt: number;
  /** Wall time then (ages for metrics and status). */
  seenWall: number;
  /** The last epoch seen on this key, kept through deletes so epochs keep rising. */
  lastEpoch: number;
}

/** A lease this member holds. */
interface Held {
  revision: number;
  epoch: number;
  /** Date.now() when the last successful acquire or renewal was sent. */
  freshAt: number;
  /** Acquired from a holder that did not release it. */
  takenOver: boolean;
  /** A renewal stored but not yet seen back through the watch. */
  echo?: { revision: number; startedAt: number; since: number };
}

export class PartitionLeases extends EventEmitter<{ lost: [partition: number] }> {
  readonly memberId: string;
  readonly clock: HealthClock;
  private readonly observed = new Map<number, Observed>();
  private readonly held = new Map<number, Held>();
  /** The tail of each partition's operations: one at a time per partition. */
  private readonly ops = new Map<number, Promise<unknown>>();
  private readonly acquiring = new Set<number>();
  private readonly watcher: KvWatcher;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private stopped = false;

  private constructor(
    private readonly kv: KV,
    private readonly config: PartitionLeasesOptions['config'],
    readonly partitions: number,
    clock: HealthClock,
    private readonly logger: Logger | undefined,
  ) {
    super();
    this.memberId = config.memberId;
    this.clock = clock;
    this.watcher = new KvWatcher(kv, (entry) => this.onEntry(entry), (err) => this.logger?.warn({ err: (err as Error).message }, 'leases watch failed; reopening'));
  }

  /** Opens the leases bucket (creating it), reads every lease, and starts renewing (nothing is held yet). */
  static async open(options: PartitionLeasesOptions): Promise<PartitionLeases> {
    const js = jetstream(options.connection);
    const kv = await retryUntil('opening the leases bucket', options.openTimeoutMs ?? 30_000, () =>
      // No direct gets: a lagging replica could show an old holder after a conflict.
      openClusterBucket(js, options.config.leasesBucket, { key: 'cluster.leasesBucket', replicas: options.replicas, allowDirect: false }),
    );
    const leases = new PartitionLeases(kv, options.config, options.partitions, options.clock ?? new HealthClock(), options.logger);
    await retryUntil('watching the leases bucket', options.openTimeoutMs ?? 30_000, () => leases.watcher.start());
    leases.schedule();
    return leases;
  }

  /** Takes the lease of `partition` if it is free or its holder has been silent past leaseTime; true when this member holds it now. */
  acquire(partition: number): Promise<boolean> {
    this.checkPartition(partition);
    return this.serial(partition, () => this.tryAcquire(partition));
  }

  /** Gives the lease up (delete with CAS on our revision), so another member may create it at once. */
  release(partition: number): Promise<void> {
    this.checkPartition(partition);
    return this.serial(partition, () => this.deleteHeld(partition));
  }

  /** Whether `partition` is held and its last successful acquire or renewal was sent less than fenceAfter before `now`. */
  isFresh(partition: number, now = Date.now()): boolean {
    const held = this.held.get(partition);
    return held !== undefined && now - held.freshAt < this.config.fenceAfter;
  }

  /** Whether every held lease is fresh (the host keeps its InfluxDB writes open only then). */
  allFresh(now = Date.now()): boolean {
    for (const p of this.held.keys()) if (!this.isFresh(p, now)) return false;
    return true;
  }

  /** Whether this member holds `partition`'s lease. */
  holds(partition: number): boolean {
    return this.held.has(partition);
  }

  /** The partitions this member holds, ascending. */
  heldPartitions(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  /** Whether the lease was acquired from a holder that did not release it (it died or was cut off). */
  tookOver(partition: number): boolean {
    return this.held.get(partition)?.takenOver ?? false;
  }

  /** Whether acquire(partition) could succeed now: the key is absent or deleted, or its holder has been silent past leaseTime. */
  canAcquire(partition: number): boolean {
    if (this.held.has(partition)) return false;
    const seen = this.observed.get(partition);
    return seen === undefined || seen.deleted || this.clock.now() - seen.seenAt >= this.config.leaseTime;
  }

  /** The holder of each partition as last seen (this member for its own), undefined where none. */
  holders(): (string | undefined)[] {
    return Array.from({ length: this.partitions }, (_, p) => (this.held.has(p) ? this.memberId : this.observed.get(p)?.value?.holder));
  }

  /** Seconds since `partition`'s lease was last written (our renewal for our own, the last revision seen for others'); undefined when nobody holds it. */
  leaseAge(partition: number, now = Date.now()): number | undefined {
    const held = this.held.get(partition);
    if (held) return (now - held.freshAt) / 1000;
    const seen = this.observed.get(partition);
    return seen && !seen.deleted ? (now - seen.seenWall) / 1000 : undefined;
  }

  /** Stops renewing and watching without releasing anything: to the others the leases go silent and expire. */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    await this.renewing?.catch(() => undefined);
    await Promise.allSettled([...this.ops.values()]);
    await this.watcher.stop();
  }

  private async tryAcquire(partition: number): Promise<boolean> {
    if (this.stopped) throw new ClusterStoppedError(`leases of member ${this.memberId}`);
    if (this.held.has(partition)) return true;
    if (!this.canAcquire(partition)) return false;
    const seen = this.observed.get(partition);
    const takeover = seen !== undefined && !seen.deleted;
    const epoch = (seen?.lastEpoch ?? 0) + 1;
    const value = encodeLease({ holder: this.memberId, epoch, renewedAt: Date.now() });
    const freshAt = Date.now();
    this.acquiring.add(partition);
    try {
      // Absent: create; deleted or silent: CAS on the revision we saw, so two members racing for it cannot both win.
      const revision = seen === undefined ? await this.kv.create(leaseKey(partition), value) : await this.kv.update(leaseKey(partition), value, seen.revision, this.writeTimeout());
      this.held.set(partition, { revision, epoch, freshAt, takenOver: takeover });
      return true;
    } catch (err) {
      if (isConflict(err)) {
        await this.refresh(partition).catch(() => undefined);
        return false;
      }
      if (!isTransientNatsError(err)) throw err;
      this.clock.interrupt();
      // The write may still have landed: then the key says so, and the lease is ours.
      const entry = await this.kv.get(leaseKey(partition)).catch(() => null);
      const value = entry && entry.operation === 'PUT' ? safeDecode(entry) : undefined;
      if (entry && value?.holder === this.memberId && value.epoch === epoch) {
        this.held.set(partition, { revision: entry.revision, epoch, freshAt, takenOver: takeover });
        return true;
      }
      return false;
    } finally {
      this.acquiring.delete(partition);
    }
  }

  private async deleteHeld(partition: number): Promise<void> {
    const held = this.held.get(partition);
    if (!held) return;
    this.held.delete(partition);
    let revision = held.revision;
    const deadline = Date.now() + this.config.leaseTime;
    for (;;) {
      try {
        await this.kv.delete(leaseKey(partition), { previousSeq: revision });
        return;
      } catch (err) {
        if (isConflict(err)) {
          // A renewal that timed out may have landed after all: delete on its revision if the key is still ours.
          const entry = await this.kv.get(leaseKey(partition)).catch(() => null);
          const value = entry && entry.operation === 'PUT' ? safeDecode(entry) : undefined;
          if (!entry || value?.holder !== this.memberId || value.epoch !== held.epoch || entry.revision === revision) return;
          revision = entry.revision;
          continue;
        }
        // Left in place, the lease expires after leaseTime and the next owner treats it as a failover.
        if (!isTransientNatsError(err) || Date.now() >= deadline) {
          this.logger?.warn({ partition, err: (err as Error).message }, 'could not release the lease; it will expire instead');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.renewing = this.renewAll().finally(() => this.schedule());
    }, this.config.heartbeatInterval);
  }

  private async renewAll(): Promise<void> {
    let lagging = false;
    await Promise.all(
      [...this.held.keys()].map((p) =>
        this.serial(p, async () => {
          if (this.stopped) return;
          const held = this.held.get(p);
          if (!held) return;
          if (held.echo) {
            // Our last renewal has not come back through the watch: our view of the bucket is behind.
            this.clock.interrupt();
            if (Date.now() - held.echo.since > 3 * this.config.heartbeatInterval) lagging = true;
          }
          await this.renew(p, held);
        }).catch((err: unknown) => this.logger?.warn({ partition: p, err: (err as Error).message }, 'lease renewal failed')),
      ),
    );
    if (lagging) {
      this.logger?.info('leases watch lags behind our own renewals; reopening it');
      for (const held of this.held.values()) held.echo = undefined;
      this.watcher.restart();
    }
  }

  private async renew(partition: number, held: Held): Promise<void> {
    const startedAt = this.clock.wallNow();
    const freshAt = Date.now();
    try {
      const revision = await this.kv.update(leaseKey(partition), encodeLease({ holder: this.memberId, epoch: held.epoch, renewedAt: freshAt }), held.revision, this.writeTimeout());
      held.revision = revision;
      held.freshAt = freshAt;
      const seen = this.observed.get(partition);
      if (seen && seen.revision >= revision) this.clock.confirm(startedAt);
      else held.echo = { revision, startedAt, since: held.echo?.since ?? Date.now() };
    } catch (err) {
      if (isConflict(err)) return this.onConflict(partition, held);
      this.clock.interrupt();
      if (!isTransientNatsError(err)) throw err;
    }
  }

  /** A renewal's CAS was refused: our own timed-out renewal may have landed (adopt it), else someone else wrote the key. */
  private async onConflict(partition: number, held: Held): Promise<void> {
    const entry = await this.kv.get(leaseKey(partition));
    const value = entry && entry.operation === 'PUT' ? safeDecode(entry) : undefined;
    if (entry && value?.holder === this.memberId && value.epoch === held.epoch) {
      // Ours, but we do not know when it was written: freshness stays as it was until the next renewal.
      held.revision = entry.revision;
      return;
    }
    this.held.delete(partition);
    this.logger?.warn({ partition, holder: value?.holder ?? null }, 'lease lost: another member wrote it');
    this.emit('lost', partition);
  }

  /** Reads the key of `partition` directly (after a refused create or CAS the watch may not have shown the winner yet). */
  private async refresh(partition: number): Promise<void> {
    const entry = await this.kv.get(leaseKey(partition));
    if (entry) this.observe(partition, entry);
  }

  private onEntry(entry: KvEntry): void {
    const partition = partitionOfKey(entry.key);
    if (partition === undefined || partition >= this.partitions) return;
    this.observe(partition, entry);
    const held = this.held.get(partition);
    if (held?.echo && entry.revision >= held.echo.revision) {
      this.clock.confirm(held.echo.startedAt);
      held.echo = undefined;
    }
    // A lease with our name that we do not hold: an acquire whose answer we never got landed after all. Give it back.
    const value = this.observed.get(partition)?.value;
    if (!held && value?.holder === this.memberId && !this.acquiring.has(partition) && !this.stopped) {
      const revision = entry.revision;
      void this.serial(partition, async () => {
        if (this.held.has(partition)) return;
        await this.kv.delete(leaseKey(partition), { previousSeq: revision });
      }).catch(() => undefined);
    }
  }

  private observe(partition: number, entry: KvEntry): void {
    const known = this.observed.get(partition);
    if (known && known.revision >= entry.revision) return;
    const deleted = entry.operation !== 'PUT';
    const value = deleted ? undefined : safeDecode(entry, this.logger);
    this.observed.set(partition, {
      revision: entry.revision,
      value,
      deleted,
      seenAt: this.clock.stamp(),
      seenWall: Date.now(),
      lastEpoch: Math.max(known?.lastEpoch ?? 0, value?.epoch ?? 0),
    });
  }

  private serial<T>(partition: number, op: () => Promise<T>): Promise<T> {
    const previous = this.ops.get(partition) ?? Promise.resolve();
    const done = previous.catch(() => undefined).then(op);
    this.ops.set(partition, done);
    void done
      .finally(() => {
        if (this.ops.get(partition) === done) this.ops.delete(partition);
      })
      .catch(() => undefined);
    return done;
  }

  private writeTimeout(): number {
    return 2 * this.config.heartbeatInterval;
  }

  private checkPartition(partition: number): void {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) throw new RangeError(`partition must be an integer in 0..${this.partitions - 1} (got ${partition})`);
  }
}

/** A CAS refused because the key is not at the revision we named. */
function isConflict(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}

function safeDecode(entry: KvEntry, logger?: Logger): LeaseValue | undefined {
  try {
    return decodeLease(entry.key, entry.value);
  } catch (err) {
    logger?.warn({ err: (err as Error).message }, 'ignoring a lease value that is not one');
    return undefined;
  }
}
