import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PartitionBalancer, type PartitionHost } from '../cluster/index.js';
import { startNatsCluster, startNatsServer, type TestNats } from './harness/nats-server.js';
import { openMember, uniqueClusterBuckets, waitUntil, type TestMember } from './harness/cluster-members.js';

const PARTITIONS = 64;

interface HostCall {
  member: string;
  kind: 'assign' | 'revoke' | 'abandon';
  partition: number;
  afterFailure?: boolean;
  at: number;
}

/** Fake hosts of every member in one test: record every call and who processes what, and catch a partition processed twice. */
class World {
  readonly calls: HostCall[] = [];
  readonly owner = new Map<number, string>();
  readonly doubles: string[] = [];

  host(member: string): PartitionHost {
    const record = (kind: HostCall['kind'], partition: number, afterFailure?: boolean): void => {
      this.calls.push({ member, kind, partition, afterFailure, at: Date.now() });
    };
    return {
      assign: async (p, { afterFailure }) => {
        record('assign', p, afterFailure);
        const current = this.owner.get(p);
        // A crashed member's fake host keeps its partitions on record: that is not a double.
        if (current !== undefined && current !== member && !this.crashed.has(current)) this.doubles.push(`partition ${p} assigned to ${member} while ${current} has it`);
        this.owner.set(p, member);
      },
      revoke: async (p) => {
        record('revoke', p);
        if (this.owner.get(p) === member) this.owner.delete(p);
      },
      abandon: async (p) => {
        record('abandon', p);
        if (this.owner.get(p) === member) this.owner.delete(p);
      },
    };
  }

  readonly crashed = new Set<string>();

  /** Whether every partition is processed by one of `members`. */
  covered(members: string[]): boolean {
    if (this.owner.size !== PARTITIONS) return false;
    for (const m of this.owner.values()) if (!members.includes(m)) return false;
    return true;
  }

  since(at: number): HostCall[] {
    return this.calls.filter((c) => c.at >= at);
  }
}

interface Node {
  member: TestMember;
  balancer: PartitionBalancer;
}

const cleanups: (() => Promise<void>)[] = [];
let nats: TestNats;
beforeAll(async () => {
  nats = await startNatsServer();
}, 60_000);
afterAll(async () => {
  await Promise.allSettled(cleanups.map((c) => c()));
  await nats?.destroy();
});

async function startNode(servers: string[], world: World, buckets: ReturnType<typeof uniqueClusterBuckets>, memberId: string, replicas = 1): Promise<Node> {
  const member = await openMember(servers, { ...buckets, memberId }, { replicas, partitions: PARTITIONS });
  const balancer = new PartitionBalancer({ partitions: PARTITIONS, membership: member.membership, leases: member.leases, host: world.host(memberId), registry: new Registry(), interval: member.config.heartbeatInterval });
  cleanups.push(async () => {
    await balancer.halt();
    await member.close();
  });
  balancer.start();
  return { member, balancer };
}

/** Every partition owned exactly once, by the members' own accounts and the fake hosts'. */
function expectOwnedOnce(nodes: Node[], world: World): void {
  const owned = nodes.flatMap((n) => n.balancer.owned());
  expect(owned.length).toBe(PARTITIONS);
  expect(new Set(owned).size).toBe(PARTITIONS);
  expect(world.doubles).toEqual([]);
}

describe('PartitionBalancer', () => {
  it('shares 64 partitions among 3, 4 on a join (moving only to the newcomer, by handoff), 3 after a graceful stop and 2 after a crash', async () => {
    const world = new World();
    const buckets = uniqueClusterBuckets();
    const nodes = [await startNode(nats.servers, world, buckets, 'bal-a'), await startNode(nats.servers, world, buckets, 'bal-b'), await startNode(nats.servers, world, buckets, 'bal-c')];
    await waitUntil('64 partitions on 3 members', 20_000, () => world.covered(['bal-a', 'bal-b', 'bal-c']) && nodes.every((n) => n.balancer.owned().length >= 21));
    expectOwnedOnce(nodes, world);
    // Members started one after another: the first took everything and handed partitions on as the others joined.
    expect(world.calls.filter((c) => c.kind === 'abandon')).toEqual([]);

    // A 4th joins: a quarter moves, all of it to the newcomer, by revoke → assign.
    const joinAt = Date.now();
    nodes.push(await startNode(nats.servers, world, buckets, 'bal-d'));
    await waitUntil('the newcomer to take its share', 20_000, () => nodes[3]!.balancer.owned().length === 16 && nodes.every((n) => n.balancer.owned().length === 16) && world.covered(['bal-a', 'bal-b', 'bal-c', 'bal-d']));
    const joinCalls = world.since(joinAt);
    const assigns = joinCalls.filter((c) => c.kind === 'assign');
    const revokes = joinCalls.filter((c) => c.kind === 'revoke');
    console.log(`join: ${assigns.length} partitions moved in ${Date.now() - joinAt} ms`);
    expect(assigns.length).toBeLessThanOrEqual(PARTITIONS / 4 + Math.ceil(PARTITIONS * 0.05));
    expect(assigns.every((c) => c.member === 'bal-d' && c.afterFailure === false)).toBe(true);
    expect(joinCalls.filter((c) => c.kind === 'abandon')).toEqual([]);
    for (const a of assigns) expect(revokes.some((r) => r.partition === a.partition && r.at <= a.at)).toBe(true);
    expectOwnedOnce(nodes, world);

    // bal-b stops gracefully: its partitions are taken on well before a lease could expire.
    const stopAt = Date.now();
    const bOwned = nodes[1]!.balancer.owned();
    await nodes[1]!.balancer.stop();
    const rest = [nodes[0]!, nodes[2]!, nodes[3]!];
    const stopTook = await waitUntil('bal-b\'s partitions to move', 10_000, () => world.covered(['bal-a', 'bal-c', 'bal-d']) && rest.reduce((n, r) => n + r.balancer.owned().length, 0) === PARTITIONS);
    console.log(`graceful stop: ${bOwned.length} partitions taken on by the others ${Date.now() - stopAt} ms after stop() began`);
    expect(Date.now() - stopAt).toBeLessThan(6000); // leaseTime
    expect(stopTook).toBeLessThan(6000);
    expect(world.since(stopAt).filter((c) => c.kind === 'assign').every((c) => c.afterFailure === false)).toBe(true);
    expectOwnedOnce(rest, world);

    // bal-c crashes (timers stopped, nothing released or left): failover within leaseTime + 2 s.
    const crashAt = Date.now();
    const cOwned = nodes[2]!.balancer.owned();
    world.crashed.add('bal-c');
    await nodes[2]!.balancer.halt();
    const survivors = [nodes[0]!, nodes[3]!];
    await waitUntil('bal-c\'s partitions to fail over', 8000, () => survivors.reduce((n, r) => n + r.balancer.owned().length, 0) === PARTITIONS);
    const took = Date.now() - crashAt;
    console.log(`crash: ${cOwned.length} partitions failed over in ${took} ms (leaseTime 6000)`);
    const failovers = world.since(crashAt).filter((c) => c.kind === 'assign');
    expect(failovers.map((c) => c.partition).sort((x, y) => x - y)).toEqual(cOwned);
    expect(failovers.every((c) => c.afterFailure === true)).toBe(true);
    expect(world.since(crashAt).filter((c) => c.kind !== 'assign')).toEqual([]);
    expect(took).toBeLessThan(8000);
    expectOwnedOnce(survivors, world);
  }, 120_000);

  it('3-node NATS cluster: kill -9 of the server leading the leases bucket moves no partition', async () => {
    const cluster = await startNatsCluster();
    cleanups.push(() => cluster.destroy());
    const world = new World();
    const buckets = uniqueClusterBuckets();
    const ids = ['r3-a', 'r3-b', 'r3-c'];
    const nodes: Node[] = [];
    for (const id of ids) nodes.push(await startNode(cluster.servers, world, buckets, id, 3));
    await waitUntil('64 partitions on 3 members', 30_000, () => world.covered(ids) && nodes.every((n) => n.balancer.owned().length >= 21));
    expectOwnedOnce(nodes, world);

    const admin = await connect({ servers: cluster.servers, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    cleanups.push(() => admin.close());
    const jsm = await jetstreamManager(admin, { timeout: 1000 });
    const leaderOf = async (): Promise<string | undefined> => (await jsm.streams.info(`KV_${buckets.leasesBucket}`).catch(() => undefined))?.cluster?.leader;
    const leader = (await leaderOf())!;
    const membersLeader = (await jsm.streams.info(`KV_${buckets.membersBucket}`)).cluster?.leader;
    const index = cluster.nodes.findIndex((n) => n.name === leader);
    const before = world.calls.length;
    const killedAt = Date.now();
    // When the holders' leases were stale (renewals failing through the election), sampled.
    const stale: number[] = [];
    const sampler = setInterval(() => nodes.some((n) => !n.member.leases.allFresh()) && stale.push(Date.now() - killedAt), 50);
    cleanups.push(async () => clearInterval(sampler));
    await cluster.kill(index);
    const elected = await waitUntil('a new leader of the leases bucket', 30_000, async () => {
      const now = await leaderOf();
      return now !== undefined && now !== leader;
    });
    // Renewals land again: every holder's leases are fresh.
    const fresh = await waitUntil('every lease to be renewed after the election', 30_000, () => nodes.every((n) => n.member.leases.allFresh()));
    clearInterval(sampler);
    const staleWindow = stale.length === 0 ? 'never stale' : `stale (fenced) from +${stale[0]} to +${stale.at(-1)} ms`;
    console.log(`leases KV leader ${leader} killed (members KV leader ${membersLeader}): stream info named a new leader after ${elected} ms; leases ${staleWindow}; all fresh ${fresh + elected} ms after the kill`);
    // Past memberTimeout and leaseTime again, nothing moves.
    await new Promise((resolve) => setTimeout(resolve, 8000));
    expect(world.calls.slice(before)).toEqual([]);
    expectOwnedOnce(nodes, world);
    expect(Date.now() - killedAt).toBeGreaterThan(8000);
  }, 180_000);
});
