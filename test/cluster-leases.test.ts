import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type TestNats } from './harness/nats-server.js';
import { FreezableProxy, nextEvent, openMember, uniqueClusterBuckets, waitUntil, type TestMember } from './harness/cluster-members.js';

let nats: TestNats;
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  nats = await startNatsServer();
}, 60_000);
afterAll(async () => {
  await Promise.allSettled(cleanups.map((c) => c()));
  await nats?.destroy();
});

async function member(servers: string[], buckets: ReturnType<typeof uniqueClusterBuckets>, memberId: string): Promise<TestMember> {
  const m = await openMember(servers, { ...buckets, memberId });
  cleanups.push(() => m.close());
  return m;
}

/** The stored lease entry of `partition`, read past the members. */
async function stored(m: TestMember, bucket: string, partition: number) {
  const kv = await new Kvm(jetstream(m.connection)).open(bucket);
  return kv.get(`p${partition}`);
}

describe('PartitionLeases', () => {
  it('creates, renews and releases a lease; a released lease is created by the next member at once, not as a takeover', async () => {
    const buckets = uniqueClusterBuckets();
    const a = await member(nats.servers, buckets, 'lease-a');
    const b = await member(nats.servers, buckets, 'lease-b');
    expect(await a.leases.acquire(3)).toBe(true);
    expect(a.leases.tookOver(3)).toBe(false);
    expect(a.leases.isFresh(3)).toBe(true);
    const first = (await stored(a, buckets.leasesBucket, 3))!;
    expect(first.json()).toMatchObject({ holder: 'lease-a', epoch: 1 });
    await waitUntil('two renewals', 5000, async () => (await stored(a, buckets.leasesBucket, 3))!.revision > first.revision + 1);
    await waitUntil('b to see a as the holder', 3000, () => b.leases.holders()[3] === 'lease-a');
    // Fresh lease of a live holder: b cannot take it.
    expect(b.leases.canAcquire(3)).toBe(false);
    expect(await b.leases.acquire(3)).toBe(false);

    await a.leases.release(3);
    expect(a.leases.holds(3)).toBe(false);
    expect((await stored(a, buckets.leasesBucket, 3))!.operation).toBe('DEL');
    await waitUntil('b to see the release', 3000, () => b.leases.canAcquire(3));
    expect(await b.leases.acquire(3)).toBe(true);
    expect(b.leases.tookOver(3)).toBe(false);
    expect((await stored(b, buckets.leasesBucket, 3))!.json()).toMatchObject({ holder: 'lease-b', epoch: 2 });
  });

  it('a holder cut off from NATS fences itself after fenceAfter, another member takes the lease after leaseTime of silence, and the holder loses it at its next renewal', async () => {
    const buckets = uniqueClusterBuckets();
    const proxy = await FreezableProxy.start(nats.servers[0]!);
    cleanups.push(() => proxy.close());
    const a = await member([proxy.url], buckets, 'cut-a');
    const b = await member(nats.servers, buckets, 'cut-b');
    expect(await a.leases.acquire(7)).toBe(true);
    await waitUntil('b to see a as the holder', 3000, () => b.leases.holders()[7] === 'cut-a');

    const cutAt = Date.now();
    proxy.freeze();
    const fencedAfter = await waitUntil('a to fence itself', 8000, () => !a.leases.isFresh(7));
    expect(a.leases.allFresh()).toBe(false);
    expect(a.leases.holds(7)).toBe(true); // still held, only stale
    const takenAfter = await waitUntil('b to be allowed to take the silent lease', 12_000, () => b.leases.canAcquire(7)) + fencedAfter;
    expect(await b.leases.acquire(7)).toBe(true);
    expect(b.leases.tookOver(7)).toBe(true);
    console.log(`cut-off holder fenced after ${fencedAfter} ms, lease taken over after ${Date.now() - cutAt} ms (fenceAfter 4000, leaseTime 6000)`);
    // fenceAfter counts from the holder's last renewal, sent before the cut (50 ms polling, a loaded machine: some slack).
    expect(fencedAfter).toBeLessThan(4300);
    // The point of it all: the holder stopped writing well before anyone could take over.
    expect(takenAfter - fencedAfter).toBeGreaterThan(1000);
    expect(takenAfter).toBeGreaterThan(5000); // leaseTime minus at most one heartbeat of the holder's last write
    expect((await stored(b, buckets.leasesBucket, 7))!.json()).toMatchObject({ holder: 'cut-b', epoch: 2 });

    const lost = nextEvent<[number]>(a.leases, 'lost', 10_000);
    proxy.resume();
    expect((await lost)[0]).toBe(7);
    expect(a.leases.holds(7)).toBe(false);
    expect((await stored(b, buckets.leasesBucket, 7))!.json()).toMatchObject({ holder: 'cut-b' });
  });

  it('isFresh follows the last successful renewal: false once fenceAfter has passed without one', async () => {
    const buckets = uniqueClusterBuckets();
    const a = await member(nats.servers, buckets, 'fresh-a');
    expect(await a.leases.acquire(0)).toBe(true);
    const now = Date.now();
    expect(a.leases.isFresh(0, now)).toBe(true);
    expect(a.leases.isFresh(0, now + 4000)).toBe(false); // no renewal can be that new yet
    await a.leases.close(); // renewals stop
    await waitUntil('the lease to go stale', 6000, () => !a.leases.isFresh(0));
    expect(a.leases.isFresh(1)).toBe(false); // never held
  });
});
