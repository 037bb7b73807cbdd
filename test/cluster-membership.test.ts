import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type TestNats } from './harness/nats-server.js';
import { nextEvent, openMember, uniqueClusterBuckets, waitUntil, type TestMember } from './harness/cluster-members.js';

let nats: TestNats;
const opened: TestMember[] = [];
beforeAll(async () => {
  nats = await startNatsServer();
}, 60_000);
afterAll(async () => {
  await Promise.allSettled(opened.map((m) => m.close()));
  await nats?.destroy();
});

async function pair(servers: string[]): Promise<[TestMember, TestMember]> {
  const buckets = uniqueClusterBuckets();
  const a = await openMember(servers, { ...buckets, memberId: 'member-a' });
  opened.push(a);
  const b = await openMember(servers, { ...buckets, memberId: 'member-b' });
  opened.push(b);
  await waitUntil('both members to see each other', 5000, () => a.membership.live().length === 2 && b.membership.live().length === 2);
  return [a, b];
}

describe('Membership', () => {
  it('two members see each other; a leave() is seen at once', async () => {
    const [a, b] = await pair(nats.servers);
    expect(a.membership.live()).toEqual(['member-a', 'member-b']);
    expect(b.membership.live()).toEqual(['member-a', 'member-b']);
    const gone = nextEvent<[string[]]>(a.membership, 'change', 2000, (live) => !live.includes('member-b'));
    const start = Date.now();
    await b.membership.leave();
    expect((await gone)[0]).toEqual(['member-a']);
    expect(Date.now() - start).toBeLessThan(1000);
  });

  it('a member that stops heartbeating without leaving (a crash) is gone after about memberTimeout', async () => {
    const [a, b] = await pair(nats.servers);
    const gone = nextEvent<[string[]]>(a.membership, 'change', 10_000, (live) => !live.includes('member-b'));
    const start = Date.now();
    await b.membership.close();
    await gone;
    const took = Date.now() - start;
    console.log(`crashed member dropped after ${took} ms (memberTimeout 4000 ms)`);
    // From its last heartbeat: at least memberTimeout − one interval, at most memberTimeout + about two intervals.
    expect(took).toBeGreaterThan(3000);
    expect(took).toBeLessThan(7000);
  });

  it('while the (single) NATS server is down for 8 s nobody\'s view shrinks, and both still see each other after', async () => {
    const own = await startNatsServer();
    try {
      const [a, b] = await pair(own.servers);
      const shrank: string[] = [];
      for (const m of [a, b]) m.membership.on('change', (live) => live.length < 2 && shrank.push(`${m.id} saw ${JSON.stringify(live)}`));
      await own.stop(0);
      await new Promise((resolve) => setTimeout(resolve, 8000)); // the outage itself
      await own.start(0);
      // Past memberTimeout after the restart, with both members beating again.
      const recovered = await waitUntil('both heartbeats to be confirmed again', 20_000, () => a.clock.running && b.clock.running);
      await new Promise((resolve) => setTimeout(resolve, 5000));
      console.log(`after the outage, clocks ran again in ${recovered} ms`);
      expect(shrank).toEqual([]);
      expect(a.membership.live()).toEqual(['member-a', 'member-b']);
      expect(b.membership.live()).toEqual(['member-a', 'member-b']);
    } finally {
      await own.destroy();
    }
  });
});
