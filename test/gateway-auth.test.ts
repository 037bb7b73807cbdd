import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceRegistry } from '../gateway/index.js';
import { closed, connectDevice, deviceToken, encodeBatch } from './harness/devices.js';
import { startTestGateway, type TestGateway } from './harness/gateway-node.js';
import { readLoggedMessages } from './harness/log-contents.js';

const run = promisify(execFile);
const FLEET_KEY = 'test-fleet-key-0123456789abcdef';
let gw: TestGateway | undefined;

afterEach(async () => {
  await gw?.destroy();
  gw = undefined;
});

async function mosquittoPub(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run('mosquitto_pub', args, { timeout: 10_000 });
    return { code: 0, stderr };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

describe('registry mode', () => {
  it('accepts a registered device, tags its readings, and refuses a wrong secret with CONNACK 4', async () => {
    gw = await startTestGateway({ set: { 'auth.mode': 'registry' } });
    const registry = await DeviceRegistry.load(gw.config.auth.registry, { scryptCost: 1024 });
    const secret = await registry.add('sensor-1', { tags: { site: 'oslo' } });
    await registry.save();
    await gw.stop();
    gw = await startTestGateway({ dataDir: gw.dataDir, set: { 'auth.mode': 'registry' } });

    const device = await connectDevice(gw.url, 'sensor-1', secret);
    await device.publishAsync('devices/sensor-1/telemetry', encodeBatch({ seq: 1, readings: [{ metric: 'temp', timeUnixMs: Date.now(), doubleValue: 21.5 }] }), { qos: 1 });
    await device.endAsync();
    const logged = await readLoggedMessages(gw.log);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ device: 'sensor-1', deviceTags: 'site=oslo', seq: 1 });
    expect(logged[0]!.readings[0]).toMatchObject({ metric: 'temp', value: 21.5 });

    await expect(connectDevice(gw.url, 'sensor-1', 'wrong-secret')).rejects.toMatchObject({ code: 4 });
    await expect(connectDevice(gw.url, 'nobody', secret)).rejects.toMatchObject({ code: 4 });
    expect(await gw.metric('sluice_gateway_connections_refused_total', { reason: 'auth_refused' })).toBe(2);
  });

  it('works with mosquitto_pub, and mosquitto_pub with a bad password is refused', async () => {
    gw = await startTestGateway({ set: { 'auth.mode': 'registry' } });
    const registry = await DeviceRegistry.load(gw.config.auth.registry, { scryptCost: 1024 });
    const secret = await registry.add('pub-1');
    await registry.save();
    await gw.stop();
    gw = await startTestGateway({ dataDir: gw.dataDir, set: { 'auth.mode': 'registry' } });
    const file = join(gw.dataDir, 'payload.bin');
    await writeFile(file, encodeBatch({ seq: 7, series: [{ metric: 'v', startUnixMs: Date.now(), timeDeltaMs: [0, 10, 20], values: [1, 2, 3] }] }));
    const base = ['-h', '127.0.0.1', '-p', String(gw.port), '-i', 'pub-1', '-u', 'pub-1', '-q', '1', '-t', 'devices/pub-1/telemetry', '-f', file];
    expect((await mosquittoPub([...base, '-P', secret])).code).toBe(0);
    const bad = await mosquittoPub([...base, '-P', 'nope']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/bad user name or password|not authori[sz]ed/i);
    const logged = await readLoggedMessages(gw.log);
    expect(logged.map((m) => m.readings.map((r) => r.value))).toEqual([[1, 2, 3]]);
  });
});

describe('service accounts (issue 10, defect 9)', () => {
  it("cannot connect with a device's client id: CONNACK 2, and the device keeps its session", async () => {
    gw = await startTestGateway({ set: { 'auth.mode': 'registry' } });
    const registry = await DeviceRegistry.load(gw.config.auth.registry, { scryptCost: 1024 });
    const deviceSecret = await registry.add('meter-1');
    const serviceSecret = await registry.add('dashboard', { role: 'service' });
    await registry.save();
    await gw.stop();
    gw = await startTestGateway({ dataDir: gw.dataDir, set: { 'auth.mode': 'registry' } });

    const device = await connectDevice(gw.url, 'meter-1', deviceSecret, { clean: false });
    let deviceClosed = false;
    device.on('close', () => (deviceClosed = true));
    await expect(connectDevice(gw.url, 'dashboard', serviceSecret, { clientId: 'meter-1', clean: false })).rejects.toMatchObject({ code: 2 });
    expect(await gw.metric('sluice_gateway_connections_refused_total', { reason: 'client_id_reserved' })).toBe(1);
    // Still the device's session: its next publish is acknowledged on the same connection.
    await device.publishAsync('devices/meter-1/telemetry', encodeBatch({ seq: 1, readings: [{ metric: 'kwh', timeUnixMs: Date.now(), doubleValue: 3 }] }), { qos: 1 });
    expect(deviceClosed).toBe(false);
    // With a client id of its own the service connects.
    const dashboard = await connectDevice(gw.url, 'dashboard', serviceSecret, { clientId: 'dashboard-ui-1' });
    await Promise.all([dashboard.endAsync(), device.endAsync()]);
    expect((await readLoggedMessages(gw.log)).map((m) => m.device)).toEqual(['meter-1']);
  });
});

describe('token mode', () => {
  it('accepts HMAC tokens from mqtt.js and mosquitto_pub and refuses a wrong token with CONNACK 4', async () => {
    gw = await startTestGateway({ set: { 'auth.mode': 'token', 'auth.fleetKey': FLEET_KEY } });
    const device = await connectDevice(gw.url, 'tok-1', deviceToken(FLEET_KEY, 'tok-1'));
    await device.publishAsync('devices/tok-1/telemetry/json', JSON.stringify({ seq: 3, readings: [{ metric: 'rpm', value: 1200 }] }), { qos: 1 });
    await device.endAsync();
    const ok = await mosquittoPub(['-h', '127.0.0.1', '-p', String(gw.port), '-i', 'tok-2', '-u', 'tok-2', '-P', deviceToken(FLEET_KEY, 'tok-2'), '-q', '1', '-t', 'devices/tok-2/telemetry/json', '-m', '{"seq":1,"readings":[{"metric":"x","value":2}]}']);
    expect(ok.code).toBe(0);
    await expect(connectDevice(gw.url, 'tok-1', deviceToken(FLEET_KEY, 'tok-other'))).rejects.toMatchObject({ code: 4 });
    const logged = await readLoggedMessages(gw.log);
    expect(logged.map((m) => [m.device, m.readings[0]!.value]).sort()).toEqual([['tok-1', 1200], ['tok-2', 2]]);
  });

  it('refuses a client id that differs from the username with CONNACK 5', async () => {
    gw = await startTestGateway({ set: { 'auth.mode': 'token', 'auth.fleetKey': FLEET_KEY } });
    await expect(connectDevice(gw.url, 'tok-1', deviceToken(FLEET_KEY, 'tok-1'), { clientId: 'someone-else' })).rejects.toMatchObject({ code: 5 });
  });
});

describe('anonymous mode', () => {
  it('accepts mosquitto_pub without credentials', async () => {
    gw = await startTestGateway({ set: { 'auth.mode': 'anonymous' } });
    const ok = await mosquittoPub(['-h', '127.0.0.1', '-p', String(gw.port), '-i', 'anon-pub', '-q', '1', '-t', 'devices/anon-pub/telemetry/json', '-m', '{"seq":1,"readings":[{"metric":"x","value":3}]}']);
    expect(ok.code).toBe(0);
    expect((await readLoggedMessages(gw.log)).map((m) => [m.device, m.readings[0]!.value])).toEqual([['anon-pub', 3]]);
  });

  it('accepts any client on its own topics', async () => {
    gw = await startTestGateway({ set: { 'auth.mode': 'anonymous' } });
    const device = await connectDevice(gw.url, 'anon-1', undefined, { username: undefined });
    await device.publishAsync('devices/anon-1/telemetry', encodeBatch({ seq: 1, readings: [{ metric: 'a', doubleValue: 1 }] }), { qos: 1 });
    await device.endAsync();
    expect(await gw.registry.getSingleMetric('sluice_gateway_rejected_total')!.get().then((m) => m.values)).toEqual([]);
    expect((await readLoggedMessages(gw.log)).map((m) => m.device)).toEqual(['anon-1']);
  });
});

describe('ACL', () => {
  it("closes a device that publishes to another device's topic, and logs nothing from it", async () => {
    gw = await startTestGateway({ set: { 'auth.mode': 'token', 'auth.fleetKey': FLEET_KEY } });
    const device = await connectDevice(gw.url, 'acl-1', deviceToken(FLEET_KEY, 'acl-1'));
    const gone = closed(device);
    device.publish('devices/acl-2/telemetry', encodeBatch({ seq: 1, readings: [{ metric: 'a', doubleValue: 1 }] }), { qos: 1 });
    await gone;
    device.end(true);
    expect(await readLoggedMessages(gw.log)).toEqual([]);
    expect(await gw.metric('sluice_gateway_publishes_refused_total', { reason: 'acl_publish' })).toBe(1);
    expect(await gw.metric('sluice_gateway_connections_refused_total')).toBe(0);
  });

  it('refuses a device subscription to # (SUBACK 0x80) and grants its own commands topic', async () => {
    gw = await startTestGateway({ set: { 'auth.mode': 'token', 'auth.fleetKey': FLEET_KEY } });
    const device = await connectDevice(gw.url, 'acl-3', deviceToken(FLEET_KEY, 'acl-3'));
    // mqtt.js turns a SUBACK failure code into a rejection that carries the packet.
    const denied = await device.subscribeAsync('#', { qos: 1 }).then(
      () => undefined,
      (err: { packet?: { granted?: number[] } }) => err.packet?.granted,
    );
    expect(denied).toEqual([128]);
    expect(await gw.metric('sluice_gateway_subscriptions_refused_total', { reason: 'acl_subscribe' })).toBe(1);
    expect(await gw.metric('sluice_gateway_connections_refused_total')).toBe(0);
    const granted = await device.subscribeAsync('devices/acl-3/commands/#', { qos: 1 });
    expect(granted[0]!.qos).toBe(1);
    await device.endAsync();
  });

  it('takes a mosquitto ACL file unchanged: topic deny, pattern %c/%u, user sections; deny wins', async () => {
    gw = await startTestGateway({ set: { 'auth.mode': 'anonymous' } });
    const aclFile = join(gw.dataDir, 'mosquitto.acl');
    await writeFile(
      aclFile,
      [
        '# copied from a mosquitto deployment',
        'topic read chat/#',
        '',
        '# every client writes under its own id and reads its own inbox',
        'pattern write chat/%c',
        'pattern read inbox/%u/#',
        '',
        'user reader',
        'topic deny chat/secret',
        '',
      ].join('\n'),
    );
    await gw.stop();
    gw = await startTestGateway({ dataDir: gw.dataDir, set: { 'auth.mode': 'anonymous', 'acl.file': aclFile } });
    const reader = await connectDevice(gw.url, 'reader', undefined);
    const suback = (filter: string): Promise<number[] | undefined> =>
      reader.subscribeAsync(filter, { qos: 1 }).then(
        (granted) => granted.map((g) => g.qos),
        (err: { packet?: { granted?: number[] } }) => err.packet?.granted,
      );
    expect(await suback('chat/secret')).toEqual([128]);
    expect(await suback('inbox/reader/#')).toEqual([1]);
    expect(await suback('inbox/other/#')).toEqual([128]);
    // Partly denied: granted, and chat/secret is withheld from it at delivery.
    expect(await suback('chat/#')).toEqual([1]);
    const received: string[] = [];
    const roomArrived = new Promise<void>((resolve) =>
      reader.on('message', (topic) => {
        received.push(topic);
        if (topic === 'chat/room') resolve();
      }),
    );
    // The client 'secret' may write chat/secret (pattern %c); only the reader is denied it.
    const secret = await connectDevice(gw.url, 'secret', undefined);
    await secret.publishAsync('chat/secret', 'classified', { qos: 1 });
    const room = await connectDevice(gw.url, 'room', undefined);
    await room.publishAsync('chat/room', 'hello', { qos: 1 });
    await roomArrived;
    expect(received).toEqual(['chat/room']);
    // Writing where no rule allows closes the connection, as for any ACL refusal.
    const gone = closed(room);
    room.publish('chat/secret', 'nope', { qos: 1 });
    await gone;
    room.end(true);
    expect(await gw.metric('sluice_gateway_publishes_refused_total', { reason: 'acl_publish' })).toBe(1);
    await Promise.all([reader.endAsync(), secret.endAsync()]);
  });

  it('lets an acl.file turn the broker into a plain MQTT broker for development', async () => {
    gw = await startTestGateway({ set: { 'auth.mode': 'anonymous' } });
    const aclFile = join(gw.dataDir, 'acl.conf');
    await writeFile(aclFile, '# development: anyone may do anything\npattern readwrite #\n');
    await gw.stop();
    gw = await startTestGateway({ dataDir: gw.dataDir, set: { 'auth.mode': 'anonymous', 'acl.file': aclFile } });
    const sub = await connectDevice(gw.url, 'sub', undefined, { username: undefined });
    await sub.subscribeAsync('chat/#', { qos: 1 });
    const got = new Promise<string>((resolve) => sub.once('message', (_t, payload) => resolve(payload.toString())));
    const pub = await connectDevice(gw.url, 'pub', undefined, { username: undefined });
    await pub.publishAsync('chat/room', 'hello', { qos: 1 });
    expect(await got).toBe('hello');
    await Promise.all([sub.endAsync(), pub.endAsync()]);
  });
});
