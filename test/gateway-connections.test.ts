import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { connectDevice, encodeBatch } from './harness/devices.js';
import { startTestGateway, type TestGateway } from './harness/gateway-node.js';
import { readLoggedMessages } from './harness/log-contents.js';
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

/** An anonymous gateway whose ACL lets anyone read and write anything (for subscribers). */
async function openGateway(set: Record<string, string> = {}): Promise<TestGateway> {
  const dir = await tempDir();
  const aclFile = join(dir.path, 'acl.conf');
  await writeFile(aclFile, 'pattern readwrite #\n');
  return startTestGateway({ dataDir: dir.path, set: { ...anonymous, 'acl.file': aclFile, ...set } });
}

function nextMessage(client: MqttClient, topic: string): Promise<{ payload: Buffer; retain: boolean }> {
  return new Promise((resolve) => {
    const on = (t: string, payload: Buffer, packet: { retain: boolean }): void => {
      if (t !== topic) return;
      client.off('message', on);
      resolve({ payload, retain: packet.retain });
    };
    client.on('message', on);
  });
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
    expect(await gw.metric('sluice_gateway_connections_closed_total', { reason: 'packet_timeout' })).toBe(1);
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

  it('keeps descriptors for HTTP: 600 silent MQTT sockets under a 512-descriptor limit (default mqtt.reservedFds)', async () => {
    const dir = await tempDir();
    try {
      node = spawnSluice(
        ['gateway', '--data-dir', dir.path, '--mqtt-port', '0', '--http-port', '0', '--set', 'auth.mode=anonymous', '--set', 'mqtt.host=127.0.0.1', '--set', 'http.host=127.0.0.1', '--set', 'mqtt.maxPendingPerAddress=1000'],
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

describe('wills (issue 10, defect 7)', () => {
  it.each([1, 2] as const)('publishes a QoS %i will to the device\'s telemetry topic through the ingest path', async (qos) => {
    gw = await openGateway();
    const watcher = await connectDevice(gw.url, 'watcher-1', undefined, { username: undefined });
    await watcher.subscribeAsync('devices/will-1/telemetry', { qos: 1 });
    const last = good(41);
    const device = await connectDevice(gw.url, 'will-1', undefined, {
      username: undefined,
      will: { topic: 'devices/will-1/telemetry', payload: last, qos, retain: true },
    });
    const will = nextMessage(watcher, 'devices/will-1/telemetry');
    device.stream.destroy(); // an unclean end: the will is due [MQTT-3.1.2-8]
    const message = await will;
    expect(message.payload).toEqual(last);
    await watcher.endAsync();
    // The broker publishes the will only after the ingest path made it durable.
    expect((await readLoggedMessages(gw.log)).map((m) => [m.device, m.seq])).toEqual([['will-1', 41]]);
    expect(await gw.metric('sluice_gateway_connections_refused_total')).toBe(0);
  });

  it('closes a connection whose CONNECT has Will QoS 3, without CONNACK [MQTT-3.1.2-14]', async () => {
    gw = await startTestGateway({ set: anonymous });
    const raw = await openRaw(gw.port);
    const body = Buffer.concat([
      Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4]),
      Buffer.from([0x02 | 0x04 | (3 << 3)]), // clean session, will flag, will QoS 3
      Buffer.from([0, 30]),
      Buffer.from([0, 5]), Buffer.from('wq3-1'),
      Buffer.from([0, 3]), Buffer.from('a/b'),
      Buffer.from([0, 1]), Buffer.from('x'),
    ]);
    raw.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
    await raw.closed;
    expect(raw.packets.filter((p) => p.cmd === 'connack')).toEqual([]);
    expect(await gw.metric('sluice_gateway_connections_refused_total', { reason: 'will_qos_invalid' })).toBe(1);
  });
});

describe('QoS 2 (issue 10, defect 8)', () => {
  // seq 0: the processors do not de-duplicate it, so only the gateway can keep it single.
  const payload = good(0);
  const publish2 = (dup: boolean): Buffer =>
    mqttPacket.generate({ cmd: 'publish', topic: 'devices/q2-1/telemetry', payload, qos: 2, dup, messageId: 7, retain: false } as Packet);

  it('ingests a QoS 2 PUBLISH re-sent before PUBREL once [MQTT-4.3.3-2]', async () => {
    gw = await startTestGateway({ set: anonymous });
    const raw = await connectRaw(gw.port, 'q2-1', 30);
    raw.write(publish2(false));
    await raw.nth('pubrec', 1);
    raw.write(publish2(true)); // the device did not see the PUBREC and re-sends
    await raw.nth('pubrec', 2);
    raw.send({ cmd: 'pubrel', messageId: 7 });
    await raw.next('pubcomp');
    const logged = await readLoggedMessages(gw.log);
    expect(logged.map((m) => [m.device, m.seq])).toEqual([['q2-1', 0]]);
    // After PUBREL the packet id is free again: a new message with it is a new message.
    raw.write(publish2(false));
    await raw.nth('pubrec', 3);
    expect(await readLoggedMessages(gw.log)).toHaveLength(2);
  });

  it('ingests once when both copies arrive in one read', async () => {
    gw = await startTestGateway({ set: anonymous });
    const raw = await connectRaw(gw.port, 'q2-1', 30);
    raw.write(Buffer.concat([publish2(false), publish2(true)]));
    await raw.nth('pubrec', 2);
    raw.send({ cmd: 'pubrel', messageId: 7 });
    await raw.next('pubcomp');
    expect((await readLoggedMessages(gw.log)).map((m) => [m.device, m.seq])).toEqual([['q2-1', 0]]);
  });
});

describe('retained telemetry (issue 10, defect 11)', () => {
  it('ingests a retained telemetry publish but does not keep it to replay', async () => {
    gw = await openGateway();
    const device = await connectDevice(gw.url, 'ret-1', undefined, { username: undefined });
    await device.publishAsync('devices/ret-1/telemetry', good(1), { qos: 1, retain: true });
    const late = await connectDevice(gw.url, 'late-sub-1', undefined, { username: undefined });
    const seen: Buffer[] = [];
    late.on('message', (topic, payload) => topic === 'devices/ret-1/telemetry' && seen.push(payload));
    await late.subscribeAsync('devices/ret-1/telemetry', { qos: 1 });
    // A retained message on an ordinary topic is still kept: once it has arrived, so
    // would have a retained telemetry message sent to the same subscriber before it.
    await device.publishAsync('devices/ret-1/status', 'online', { qos: 1, retain: true });
    const status = nextMessage(late, 'devices/ret-1/status');
    await late.subscribeAsync('devices/ret-1/status', { qos: 1 });
    expect((await status).retain).toBe(true);
    expect(seen).toEqual([]);
    await Promise.all([device.endAsync(), late.endAsync()]);
    expect((await readLoggedMessages(gw.log)).map((m) => m.seq)).toEqual([1]);
  });
});
