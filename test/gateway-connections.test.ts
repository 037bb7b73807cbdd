import { afterEach, describe, expect, it } from 'vitest';
import { encodeBatch } from './harness/devices.js';
import { startTestGateway, type TestGateway } from './harness/gateway-node.js';
import { RawMqtt } from './harness/raw-mqtt.js';
import { tempDir } from './harness/temp-dir.js';
import { spawnSluice, type SluiceProcess } from './harness/sluice-process.js';

let gw: TestGateway | undefined;
const raws: RawMqtt[] = [];
afterEach(async () => {
  for (const raw of raws.splice(0)) raw.socket.destroy();
  await gw?.destroy();
  gw = undefined;
});

const anonymous = { 'auth.mode': 'anonymous' };
const good = (seq: number): Buffer => encodeBatch({ seq, readings: [{ metric: 'ok', timeUnixMs: Date.now(), doubleValue: seq }] });

async function openRaw(port: number, localAddress?: string): Promise<RawMqtt> {
  const raw = await RawMqtt.open(port, localAddress);
  raws.push(raw);
  return raw;
}

async function connectRaw(port: number, clientId: string, keepalive: number, localAddress?: string): Promise<RawMqtt> {
  const raw = await openRaw(port, localAddress);
  raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive });
  expect(await raw.next('connack')).toMatchObject({ returnCode: 0 });
  return raw;
}

/** Resolves when `n` of the connections have closed. */
function closedCount(conns: RawMqtt[], n: number): Promise<void> {
  let count = 0;
  return new Promise((resolve) => {
    for (const c of conns) void c.closed.then(() => ++count === n && resolve());
  });
}

describe('connections that never end (issue 10, defect 6)', () => {
  it('caps sockets that have not sent CONNECT per source address; another address still connects', async () => {
    gw = await startTestGateway({ set: { ...anonymous, 'mqtt.maxPendingPerAddress': '5' } });
    const silent: RawMqtt[] = [];
    for (let i = 0; i < 12; i++) silent.push(await openRaw(gw.port, '127.0.0.1'));
    await closedCount(silent, 7);
    expect(await gw.metric('sluice_gateway_connections_refused_total', { reason: 'pending_per_address' })).toBe(7);
    const device = await connectRaw(gw.port, 'legit-1', 30, '127.0.0.2');
    device.send({ cmd: 'publish', topic: 'devices/legit-1/telemetry', payload: good(1), qos: 1, messageId: 1 });
    await device.next('puback');
    // A socket that has sent its CONNECT no longer counts as pending for its address.
    for (let i = 0; i < 6; i++) await connectRaw(gw.port, `talker-${i}`, 30, '127.0.0.3');
    expect(await gw.metric('sluice_gateway_connections_refused_total', { reason: 'pending_per_address' })).toBe(7);
  });

  it('counts sockets that never send CONNECT against mqtt.maxConnections', async () => {
    gw = await startTestGateway({ set: { ...anonymous, 'mqtt.maxConnections': '3' } });
    const silent: RawMqtt[] = [];
    for (let i = 1; i <= 3; i++) silent.push(await openRaw(gw.port, `127.0.0.${i}`));
    const extra = await openRaw(gw.port, '127.0.0.4');
    // Refused at accept, before its CONNECT, with the CONNACK 3 a client library understands.
    expect(await extra.next('connack')).toMatchObject({ returnCode: 3 });
    await extra.closed;
    expect(await gw.metric('sluice_gateway_connections_refused_total', { reason: 'max_connections' })).toBe(1);
    silent[0]!.socket.destroy();
    await silent[0]!.closed;
    // The slot is free again once a socket closes; the gate may see the close a turn later.
    for (;;) {
      const next = await openRaw(gw.port, '127.0.0.5');
      next.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'late-1', keepalive: 30 });
      if (((await next.next('connack')) as { returnCode?: number }).returnCode === 0) break;
    }
  });

  it('closes a connection whose packet does not complete within mqtt.packetTimeout (slowloris)', async () => {
    gw = await startTestGateway({ set: { ...anonymous, 'mqtt.packetTimeout': '300ms' } });
    const honest = await connectRaw(gw.port, 'honest-1', 0);
    const slow = await connectRaw(gw.port, 'slow-1', 0);
    // A PUBLISH header announcing 80 bytes, then 3 of them, then nothing.
    slow.write(Buffer.from([0x30, 80, 0, 20, 0x64]));
    const started = Date.now();
    await slow.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(await gw.metric('sluice_gateway_connections_refused_total', { reason: 'packet_timeout' })).toBe(1);
    // A connection between packets is not a slow packet: it stays.
    expect(honest.socket.destroyed).toBe(false);
    honest.send({ cmd: 'pingreq' });
    await honest.next('pingresp');
  });

  it('applies mqtt.keepaliveLimit to keep-alive 0 and to a larger one: CONNACK 0, then silence closes it [MQTT-3.1.2-24]', async () => {
    gw = await startTestGateway({ set: { ...anonymous, 'mqtt.keepaliveLimit': '1' } });
    const none = await connectRaw(gw.port, 'ka-0', 0);
    const long = await connectRaw(gw.port, 'ka-600', 600);
    const started = Date.now();
    await Promise.all([none.closed, long.closed]);
    // 1.5 × the 1 s limit.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
  });
});

describe('/healthz while MQTT sockets are exhausted (issue 10, defect 6)', () => {
  let node: SluiceProcess | undefined;
  afterEach(async () => {
    node?.child.kill('SIGKILL');
    if (node) await node.exited;
    node = undefined;
  });

  it('keeps descriptors for HTTP: 600 silent MQTT sockets under a 512-descriptor limit', async () => {
    const dir = await tempDir();
    try {
      node = spawnSluice(
        ['gateway', '--data-dir', dir.path, '--mqtt-port', '0', '--http-port', '0', '--set', 'auth.mode=anonymous', '--set', 'mqtt.host=127.0.0.1', '--set', 'http.host=127.0.0.1', '--set', 'mqtt.maxPendingPerAddress=1000', '--set', 'mqtt.reservedFds=64'],
        {},
        { maxOpenFiles: 512 },
      );
      const ports = await node.ready;
      const silent: RawMqtt[] = [];
      for (let i = 0; i < 600; i++) silent.push(await openRaw(ports.mqtt, `127.0.0.${1 + (i % 8)}`));
      const health = await fetch(`http://127.0.0.1:${ports.http}/healthz`, { signal: AbortSignal.timeout(5000) });
      expect(health.status).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
      expect(metrics).toMatch(/sluice_gateway_connections_refused_total\{reason="max_connections"\} [1-9]/);
    } finally {
      for (const raw of raws.splice(0)) raw.socket.destroy();
      await dir.remove();
    }
  });
});
