import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import hdr from 'hdr-histogram-js';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { LoadClient } from '../bench/load-client.js';

// A broker that closes a bench connection (a connection limit, a crash) must fail the bench
// with a reason, not leave it waiting for a CONNACK or a PUBACK that cannot come.
describe('LoadClient when the broker closes the connection', () => {
  let server: Server | undefined;
  const histogram = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });

  async function listen(onSocket: (socket: Socket) => void): Promise<number> {
    server = createServer(onSocket);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  }

  afterEach(() => {
    server?.close();
    server = undefined;
  });

  it('rejects open() when the broker closes before its CONNACK', async () => {
    const port = await listen((socket) => socket.destroy());
    await expect(LoadClient.open(port, 'refused-1', 'devices/refused-1/telemetry', Buffer.from([1]), 2, histogram())).rejects.toThrow(/refused-1: the broker closed the connection before its CONNACK/);
  });

  it('rejects drained() with the publishes left unacknowledged when the broker closes mid-run', async () => {
    const port = await listen((socket) => {
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      parser.on('packet', (p: Packet) => {
        if (p.cmd === 'connect') socket.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }));
        else if (p.cmd === 'publish') socket.destroy();
      });
      socket.on('data', (d) => parser.parse(d));
    });
    const client = await LoadClient.open(port, 'dropped-1', 'devices/dropped-1/telemetry', Buffer.from([1]), 2, histogram());
    client.start(); // writes its window of 2 at once
    client.stop();
    await expect(client.drained()).rejects.toThrow(/dropped-1: the broker closed the connection with 2 of 2 publishes unacknowledged/);
  });
});
