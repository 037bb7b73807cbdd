import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { startNatsCluster, startNatsServer, type TestNats } from './harness/nats-server.js';

const harnesses: TestNats[] = [];
const connections: NatsConnection[] = [];
afterAll(async () => {
  await Promise.allSettled(connections.map((nc) => nc.close()));
  await Promise.allSettled(harnesses.map((h) => h.destroy()));
});

async function open(servers: string[]): Promise<NatsConnection> {
  const nc = await connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  connections.push(nc);
  return nc;
}

/** Publishes until one publish is acknowledged; a stream whose leader just died answers only after its election. */
async function publishAcked(nc: NatsConnection, subject: string, data: string): Promise<number> {
  // jetstream() asks the server nothing (jetstreamManager() would, and time out while the
  // client is still reconnecting to a restarted server).
  const js = jetstream(nc);
  for (;;) {
    try {
      return (await js.publish(subject, data, { msgID: data, timeout: 2000 })).seq;
    } catch {
      // timeout or no responders while the stream elects a leader: the same msgID again
    }
  }
}

describe('nats-server harness', () => {
  it('starts a single JetStream node that stores, and restarts it on the same port and data', async () => {
    const nats = await startNatsServer();
    harnesses.push(nats);
    expect(nats.servers).toHaveLength(1);
    const nc = await open(nats.servers);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'H1', subjects: ['h1.>'] });
    expect(await publishAcked(nc, 'h1.a', 'one')).toBe(1);

    await nats.stop(0);
    expect(nats.nodes[0]!.running).toBe(false);
    await nats.start(0);
    expect(await publishAcked(nc, 'h1.a', 'two')).toBe(2);
    expect((await jsm.streams.info('H1')).state.messages).toBe(2);
  });

  it('starts a 3-node cluster that keeps an R3 stream writable when its leader is killed', async () => {
    const nats = await startNatsCluster();
    harnesses.push(nats);
    expect(nats.servers).toHaveLength(3);
    expect(new Set(nats.servers).size).toBe(3);
    const nc = await open(nats.servers);
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.add({ name: 'H3', subjects: ['h3.>'], num_replicas: 3 });
    expect(info.cluster?.replicas).toHaveLength(2);
    expect(await publishAcked(nc, 'h3.a', 'one')).toBe(1);

    const leader = info.cluster!.leader!;
    const index = nats.nodes.findIndex((n) => n.name === leader);
    expect(index).toBeGreaterThanOrEqual(0);
    await nats.kill(index);
    expect(await publishAcked(nc, 'h3.a', 'two')).toBe(2);
    const after = await jsm.streams.info('H3');
    expect(after.cluster?.leader).not.toBe(leader);
    expect(after.state.messages).toBe(2);

    await nats.start(index);
    expect(nats.nodes[index]!.url).toBe(nats.servers[index]);
  });
});
