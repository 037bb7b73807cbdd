/**
 * Membership: who is in the cluster, with no coordinator. Every member puts its heartbeat
 * (`<memberId>` → { id, startedAt, seq }) into the members bucket every heartbeatInterval
 * and watches the bucket. A member is live for an observer while the observer has seen a
 * new heartbeat of it within memberTimeout, counted on the observer's HealthClock (only
 * while the observer's own writes land and come back), so an outage every member suffers
 * shrinks nobody's view. `leave()` deletes the key: the others drop the member at once.
 * nats-server 2.9 does not announce TTL expiry on a watch, so the bucket's TTL only
 * cleans up keys of crashed members long after everyone has dropped them.
 */
import { EventEmitter } from 'node:events';
import { jetstream } from '@nats-io/jetstream';
import type { KV, KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../core/index.js';
import { isTransientNatsError } from '../log/index.js';
import { openClusterBucket } from './buckets.js';
import type { ClusterConfig } from './config.js';
import { HealthClock } from './health-clock.js';
import { KvWatcher } from './kv-watcher.js';
import { retryUntil } from './retry.js';

/** What a member writes under its key. */
export interface MemberHeartbeat {
  id: string;
  /** Wall time the member started (its own clock; informative). */
  startedAt: number;
  /** Counts the member's heartbeats. */
  seq: number;
}

export interface MembershipOptions {
  /** An open connection; Membership never closes it. */
  connection: NatsConnection;
  /** `cluster.*` after parseClusterConfig. */
  config: Pick<ClusterConfig, 'memberId' | 'heartbeatInterval' | 'memberTimeout' | 'membersBucket'>;
  /** Bucket replicas (nats.replicas). */
  replicas: number;
  /** Shared with this member's PartitionLeases, so a failing write of either stops both counts. Default: its own. */
  clock?: HealthClock;
  logger?: Logger;
  /** How long open() retries NATS before ClusterUnavailableError. Default 30 s. */
  openTimeoutMs?: number;
}

/** What the watch last delivered for a member. */
interface Heard {
  revision: number;
  /** HealthClock stamp when that revision was first seen. */
  seenAt: number;
  /** Wall time then, for ages in status and logs. */
  seenWall: number;
  heartbeat: MemberHeartbeat | undefined;
}

/** A write not yet seen back through the watch. */
interface PendingEcho {
  revision: number;
  startedAt: number;
  /** Wall time of the oldest write not seen back. */
  since: number;
}

/** A member's lag before its watch is re-opened: three heartbeats without its own write coming back. */
const WATCH_LAG_BEATS = 3;

export class Membership extends EventEmitter<{ change: [live: string[]] }> {
  readonly memberId: string;
  readonly clock: HealthClock;
  private readonly heard = new Map<string, Heard>();
  private readonly startedAt = Date.now();
  private seq = 0;
  private pending: PendingEcho | undefined;
  private ownRevision = 0;
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private stopped = false;
  private lastLive: string[] = [];
  private readonly watcher: KvWatcher;

  private constructor(
    private readonly kv: KV,
    private readonly config: MembershipOptions['config'],
    clock: HealthClock,
    private readonly logger: Logger | undefined,
  ) {
    super();
    this.memberId = config.memberId;
    this.clock = clock;
    this.watcher = new KvWatcher(kv, (entry) => this.onEntry(entry), (err) => this.logger?.warn({ err: (err as Error).message }, 'members watch failed; reopening'));
  }

  /** Opens the members bucket (creating it), reads who is there, writes the first heartbeat and keeps beating. */
  static async open(options: MembershipOptions): Promise<Membership> {
    const js = jetstream(options.connection);
    const kv = await retryUntil('opening the members bucket', options.openTimeoutMs ?? 30_000, () =>
      openClusterBucket(js, options.config.membersBucket, {
        key: 'cluster.membersBucket',
        replicas: options.replicas,
        // Clean-up only: crashed members' keys go long after every observer dropped them.
        ttlMs: Math.max(60_000, 10 * options.config.memberTimeout),
        allowDirect: true,
      }),
    );
    const membership = new Membership(kv, options.config, options.clock ?? new HealthClock(), options.logger);
    await retryUntil('watching the members bucket', options.openTimeoutMs ?? 30_000, () => membership.watcher.start());
    membership.lastLive = membership.live();
    await membership.beat();
    membership.schedule();
    return membership;
  }

  /** The live members, sorted, this member included. */
  live(): string[] {
    const now = this.clock.now();
    const live = [this.memberId];
    for (const [id, h] of this.heard) if (id !== this.memberId && now - h.seenAt < this.config.memberTimeout) live.push(id);
    return live.sort();
  }

  /** Every member this one has heard of and not seen leave, with how long ago (wall ms) its newest heartbeat arrived. */
  lastHeard(): { id: string; ageMs: number; live: boolean }[] {
    const live = new Set(this.live());
    const now = Date.now();
    return [...this.heard].map(([id, h]) => ({ id, ageMs: now - h.seenWall, live: live.has(id) })).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** Leaves gracefully: stops beating and deletes this member's key, so every other member drops it at once. */
  async leave(): Promise<void> {
    if (this.stopped) return;
    await this.close();
    try {
      await this.kv.delete(this.memberId);
    } catch (err) {
      // Not fatal: the others drop us after memberTimeout instead.
      this.logger?.warn({ err: (err as Error).message }, 'could not delete the member key on leave; others will time it out');
    }
  }

  /** Stops beating and watching without deleting the key: to the others this member has crashed (and times out). */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    await this.beating?.catch(() => undefined);
    await this.watcher.stop();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.beating = this.beat().finally(() => this.schedule());
    }, this.config.heartbeatInterval);
  }

  /** Writes one heartbeat; a failure or a write the watch has not echoed stops the clock. */
  private async beat(): Promise<void> {
    if (this.stopped) return;
    if (this.pending) {
      // The last write has not come back: the watch is behind, so what it shows of others is too.
      this.clock.interrupt();
      if (Date.now() - this.pending.since > WATCH_LAG_BEATS * this.config.heartbeatInterval) {
        this.logger?.info('members watch lags behind our own heartbeat; reopening it');
        this.pending = undefined;
        this.watcher.restart();
      }
    }
    const startedAt = this.clock.wallNow();
    const wall = Date.now();
    const heartbeat: MemberHeartbeat = { id: this.memberId, startedAt: this.startedAt, seq: ++this.seq };
    try {
      const revision = await this.kv.put(this.memberId, JSON.stringify(heartbeat), { timeout: 2 * this.config.heartbeatInterval });
      if (this.ownRevision >= revision) this.clock.confirm(startedAt);
      else this.pending = { revision, startedAt, since: this.pending?.since ?? wall };
    } catch (err) {
      this.clock.interrupt();
      if (!isTransientNatsError(err)) this.logger?.warn({ err: (err as Error).message }, 'heartbeat write failed');
    }
    this.evaluate();
  }

  private onEntry(entry: KvEntry): void {
    const id = entry.key;
    if (id === this.memberId) {
      this.ownRevision = Math.max(this.ownRevision, entry.revision);
      if (this.pending && entry.revision >= this.pending.revision) {
        this.clock.confirm(this.pending.startedAt);
        this.pending = undefined;
      }
    } else if (entry.operation !== 'PUT') {
      this.heard.delete(id);
    } else {
      const known = this.heard.get(id);
      if (known === undefined || known.revision !== entry.revision) {
        this.heard.set(id, { revision: entry.revision, seenAt: this.clock.stamp(), seenWall: Date.now(), heartbeat: parseHeartbeat(entry) });
      }
    }
    this.evaluate();
  }

  /** Emits `change` when the live set differs from the one last emitted. */
  private evaluate(): void {
    if (this.stopped) return;
    const live = this.live();
    if (live.length === this.lastLive.length && live.every((id, i) => id === this.lastLive[i])) return;
    this.lastLive = live;
    this.emit('change', live);
  }
}

function parseHeartbeat(entry: KvEntry): MemberHeartbeat | undefined {
  try {
    return entry.json<MemberHeartbeat>();
  } catch {
    return undefined; // a stranger's value: the revision still counts as a sign of life
  }
}
