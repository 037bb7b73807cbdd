/**
 * The paced load client measures its own lateness apart from the broker's: a publish
 * offered 30 ms after it came due was late by 30 ms before any broker saw it.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { LoadClient } from '../bench/load-client.js';

/** A peer that answers CONNECT with CONNACK and never PUBACKs: publishes stay in flight. */
async function silentBroker(): Promise<{ port: number; publishes: () => number; close: () => Promise<void> }> {
  let publishes = 0;
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p: Packet) => {
      if (p.cmd === 'connect') socket.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }));
      if (p.cmd === 'publish') publishes++;
    });
    socket.on('data', (d) => parser.parse(d));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    publishes: () => publishes,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('LoadClient paced', () => {
  it("records how long after coming due each publish was first offered, apart from the broker's PUBACK time", async () => {
    const broker = await silentBroker();
    cleanups.push(broker.close);
    const lags: number[] = [];
    const client = await LoadClient.open(broker.port, 'pacer', 'devices/pacer/telemetry', Buffer.from([1]), 100, { recordValue: () => undefined });
    cleanups.push(() => client.close());
    // 1 000/s from t = 0: one publish due each ms. Offered at 30 ms (the generator stalled), then at 32.
    client.startPaced(1000, 0, 0, { recordValue: (us) => lags.push(us) });
    client.offer(30);
    expect(lags).toHaveLength(30);
    expect(Math.max(...lags)).toBe(29_000); // the first came due at 1 ms
    expect(Math.min(...lags)).toBe(1); // the last at 30 ms, offered at once (1 µs is the histogram's floor)
    client.offer(32);
    expect(lags.slice(30)).toEqual([1000, 1]);
    expect(client.sent).toBe(32); // all within the window of 100: the lag is the generator's alone
    await expect.poll(broker.publishes).toBe(32);
  });
});
