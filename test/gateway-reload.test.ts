import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceRegistry } from '../gateway/index.js';
import { closed, connectDevice, encodeBatch } from './harness/devices.js';
import { followLog, type LogLines } from './harness/process-lines.js';
import { SLUICE_BIN, spawnSluice, type SluiceProcess } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

const run = promisify(execFile);
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const DEVICE_RULES = 'pattern write devices/%u/telemetry\npattern write devices/%u/telemetry/json\npattern read devices/%u/commands/#\n';

interface Setup {
  node: SluiceProcess;
  log: LogLines;
  url: string;
  http: number;
  registry: string;
  acl: string;
  secrets: Map<string, string>;
}

/** A `sluice gateway` process in registry mode with an ACL file, and the given devices enrolled. */
async function setUp(devices: { id: string; role?: 'service' }[], set: string[] = []): Promise<Setup> {
  const dir = await tempDir();
  cleanups.push(dir.remove);
  const conf = join(dir.path, 'conf');
  await mkdir(conf);
  const registryPath = join(conf, 'devices.json');
  const aclPath = join(conf, 'acl.conf');
  await writeFile(aclPath, DEVICE_RULES);
  const registry = await DeviceRegistry.load(registryPath, { scryptCost: 1024 });
  const secrets = new Map<string, string>();
  for (const d of devices) secrets.set(d.id, await registry.add(d.id, { role: d.role ?? 'device' }));
  await registry.save();
  const node = spawnSluice([
    'gateway', '--data-dir', join(dir.path, 'data'), '--mqtt-port', '0', '--http-port', '0',
    '--set', 'mqtt.host=127.0.0.1', '--set', 'http.host=127.0.0.1', '--set', `auth.registry=${registryPath}`, '--set', `acl.file=${aclPath}`,
    ...set.flatMap((s) => ['--set', s]),
  ]);
  const log = followLog(node);
  cleanups.push(async () => {
    if (node.child.exitCode === null) node.child.kill('SIGKILL');
    await node.exited;
  });
  const { mqtt, http } = await node.ready;
  return { node, log, url: `mqtt://127.0.0.1:${mqtt}`, http, registry: registryPath, acl: aclPath, secrets };
}

async function connect(s: Setup, id: string, secret = s.secrets.get(id)): Promise<MqttClient> {
  const client = await connectDevice(s.url, id, secret);
  cleanups.push(() => client.endAsync(true));
  return client;
}

/** `sluice devices <args>` against the test's registry; resolves with stdout. */
async function devicesCli(s: Setup, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [SLUICE_BIN, 'devices', ...args, '--set', `auth.registry=${s.registry}`]);
  return stdout.trim();
}

/** Publishes QoS 1 in a loop until stopped or the connection goes; counts PUBACKs. */
function publishLoop(client: MqttClient, id: string): { acked: () => number; stop: () => Promise<void> } {
  let acked = 0;
  let running = true;
  const done = (async () => {
    for (let seq = 1; running && client.connected; seq++) {
      try {
        await client.publishAsync(`devices/${id}/telemetry`, encodeBatch({ seq, readings: [{ metric: 'm', timeUnixMs: Date.now(), doubleValue: seq }] }), { qos: 1 });
        acked++;
      } catch {
        return;
      }
    }
  })();
  // A publish in flight when the connection went never settles (mqtt.js without reconnect): not awaited then.
  const stop = async (): Promise<void> => {
    running = false;
    if (client.connected) await done;
  };
  return { acked: () => acked, stop };
}

/** Resolves once `count` grows past its value now: the load is still flowing. */
async function grows(count: () => number, what: string): Promise<void> {
  const from = count();
  const started = Date.now();
  while (count() <= from) {
    if (Date.now() - started > 10_000) throw new Error(`${what} stopped moving at ${from}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function metric(s: Setup, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${s.http}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ')[1]) : 0;
}

const registryReloaded = (line: Record<string, unknown>): boolean => line.msg !== undefined && String(line.msg).startsWith('device registry reloaded');

describe('registry and ACL changes at run time', () => {
  it('removes, adds and rotates devices and changes the ACL under load, without a restart', { timeout: 90_000 }, async () => {
    const s = await setUp([{ id: 'keep-1' }, { id: 'keep-2' }, { id: 'victim' }, { id: 'rotated' }, { id: 'svc', role: 'service' }]);
    const keep = await Promise.all(['keep-1', 'keep-2'].map((id) => connect(s, id)));
    let keepClosed = 0;
    for (const k of keep) k.on('close', () => keepClosed++);
    const loads = keep.map((k, i) => publishLoop(k, `keep-${i + 1}`));
    const victim = await connect(s, 'victim');
    const victimLoad = publishLoop(victim, 'victim');
    const rotated = await connect(s, 'rotated');
    // The service's subscription is granted under the first ACL.
    const svc = await connectDevice(s.url, 'svc', s.secrets.get('svc'), { clientId: 'svc-client' });
    cleanups.push(() => svc.endAsync(true));
    const seenBySvc = new Map<string, number>();
    svc.on('message', (topic) => seenBySvc.set(topic, (seenBySvc.get(topic) ?? 0) + 1));
    await svc.subscribeAsync('devices/+/telemetry', { qos: 0 });
    await grows(() => seenBySvc.get('devices/keep-1/telemetry') ?? 0, 'deliveries of keep-1 to the service');
    await grows(victimLoad.acked, 'the victim');

    // Remove: the connected victim is disconnected, and its next CONNECT is refused.
    const victimGone = closed(victim);
    const reloaded = s.log.next(registryReloaded, 'the registry reload after remove');
    await devicesCli(s, 'remove', 'victim');
    const written = Date.now();
    await victimGone;
    const removeMs = Date.now() - written;
    expect((await reloaded).removed).toBe(1);
    await expect(connectDevice(s.url, 'victim', s.secrets.get('victim'))).rejects.toMatchObject({ code: 4 });
    await victimLoad.stop();

    // Add: a new device is accepted without a restart.
    const added = s.log.next(registryReloaded, 'the registry reload after add');
    const newSecret = await devicesCli(s, 'add', 'newbie');
    await added;
    const newbie = await connect(s, 'newbie', newSecret);
    await newbie.publishAsync('devices/newbie/telemetry', encodeBatch({ seq: 1, readings: [{ metric: 'm', timeUnixMs: Date.now(), doubleValue: 1 }] }), { qos: 1 });

    // Rotate: the connected device is disconnected; the new secret works, the old one does not
    // (the old secret passed scrypt a moment ago, so it sits in the verified-secrets cache).
    const rotatedGone = closed(rotated);
    const rotatedReload = s.log.next(registryReloaded, 'the registry reload after rotate');
    const rotatedSecret = await devicesCli(s, 'rotate', 'rotated');
    await rotatedGone;
    expect((await rotatedReload).changed).toBe(1);
    const again = await connect(s, 'rotated', rotatedSecret);
    await again.endAsync();
    await expect(connectDevice(s.url, 'rotated', s.secrets.get('rotated'))).rejects.toMatchObject({ code: 4 });

    // ACL: keep-1 may now publish its status, and the service's existing subscription stops
    // delivering keep-1's telemetry (a user-scoped deny), while keep-2's keeps coming.
    // Under the first ACL a status publish is refused: aedes closes the connection.
    const newbieGone = closed(newbie);
    newbie.publish('devices/newbie/status', 'up', { qos: 1 });
    await newbieGone;
    const aclReloaded = s.log.next((l) => l.msg === 'ACL reloaded', 'the ACL reload');
    const aclWritten = Date.now();
    await writeFile(s.acl, `${DEVICE_RULES}pattern write devices/%u/status\nuser svc\ntopic deny devices/keep-1/telemetry\n`);
    await aclReloaded;
    const aclMs = Date.now() - aclWritten;
    await keep[0]!.publishAsync('devices/keep-1/status', 'up', { qos: 1 });
    const before = seenBySvc.get('devices/keep-1/telemetry') ?? 0;
    await grows(loads[0]!.acked, 'keep-1');
    await grows(() => seenBySvc.get('devices/keep-2/telemetry') ?? 0, 'deliveries of keep-2 to the service');
    await grows(loads[0]!.acked, 'keep-1');
    // Deliveries in flight when the rules changed may still arrive; none after that.
    const settled = seenBySvc.get('devices/keep-1/telemetry') ?? 0;
    expect(settled - before).toBeLessThan(50);
    await grows(() => seenBySvc.get('devices/keep-2/telemetry') ?? 0, 'deliveries of keep-2 to the service');
    expect(seenBySvc.get('devices/keep-1/telemetry') ?? 0).toBe(settled);

    // The devices under load never noticed.
    await Promise.all(loads.map((l) => grows(l.acked, 'the load')));
    expect(keepClosed).toBe(0);
    for (const l of loads) await l.stop();
    expect(await metric(s, 'sluice_config_reload_total', 'file="registry",result="ok"')).toBeGreaterThanOrEqual(3);
    expect(await metric(s, 'sluice_config_reload_total', 'file="acl",result="ok"')).toBe(1);
    console.log(`reload latency: removed device disconnected ${removeMs} ms after "devices remove" returned; ACL in force ${aclMs} ms after the write`);
  });

  it('keeps the old rules when a file does not load, and says why in the log and the metric', { timeout: 60_000 }, async () => {
    const s = await setUp([{ id: 'dev-1' }, { id: 'dev-2' }]);
    const dev1 = await connect(s, 'dev-1');
    const invalid = s.log.next((l) => l.file === 'registry' && l.level === 50, 'the invalid-registry log line');
    await writeFile(s.registry, '{"devices": [ {"id": "dev-1", ');
    const line = await invalid;
    expect(line.msg).toMatch(/^device registry .*devices\.json is not valid JSON: .*; the registry loaded before stays in force: fix the file/);
    expect(await metric(s, 'sluice_config_reload_total', 'file="registry",result="invalid"')).toBe(1);
    // Everyone stays: dev-1 connected, dev-2 still accepted by the old registry.
    expect(dev1.connected).toBe(true);
    const dev2 = await connect(s, 'dev-2');
    await dev2.endAsync();

    const aclInvalid = s.log.next((l) => l.file === 'acl' && l.level === 50, 'the invalid-ACL log line');
    await writeFile(s.acl, `${DEVICE_RULES}topic raed secret/#\n`);
    expect((await aclInvalid).msg).toMatch(/line 4 "topic raed secret\/#".*the ACL loaded before stays in force/);
    expect(await metric(s, 'sluice_config_reload_total', 'file="acl",result="invalid"')).toBe(1);
    // The old ACL still grants dev-1 its telemetry.
    await dev1.publishAsync('devices/dev-1/telemetry', encodeBatch({ seq: 1, readings: [{ metric: 'm', timeUnixMs: Date.now(), doubleValue: 1 }] }), { qos: 1 });
    expect(dev1.connected).toBe(true);
    expect(s.node.child.exitCode).toBeNull();
  });

  it('reloads on SIGHUP and keeps running', { timeout: 60_000 }, async () => {
    const s = await setUp([{ id: 'hup-1' }]);
    const hup1 = await connect(s, 'hup-1');
    const load = publishLoop(hup1, 'hup-1');
    await grows(load.acked, 'hup-1');
    // Nothing changed, so only the signal can cause this reload.
    const registry = s.log.next(registryReloaded, 'the registry reload on SIGHUP');
    const acl = s.log.next((l) => l.msg === 'ACL reloaded', 'the ACL reload on SIGHUP');
    s.node.child.kill('SIGHUP');
    await Promise.all([registry, acl]);
    await grows(load.acked, 'hup-1 after SIGHUP');
    await load.stop();
    expect(hup1.connected).toBe(true);
    expect(s.node.child.exitCode).toBeNull();
    expect(s.node.child.signalCode).toBeNull();
  });

  it('applies on SIGHUP a change the watch is off for', { timeout: 60_000 }, async () => {
    const s = await setUp([{ id: 'hup-1' }, { id: 'hup-2' }], ['auth.reload.watch=false']);
    const hup1 = await connect(s, 'hup-1');
    const load = publishLoop(hup1, 'hup-1');
    const hup2 = await connect(s, 'hup-2');
    // Not watched: the change waits for SIGHUP.
    await devicesCli(s, 'remove', 'hup-2');
    await grows(load.acked, 'hup-1');
    expect(hup2.connected).toBe(true);
    const gone = closed(hup2);
    const reloaded = s.log.next(registryReloaded, 'the reload on SIGHUP');
    s.node.child.kill('SIGHUP');
    expect((await reloaded).removed).toBe(1);
    await gone;
    await expect(connectDevice(s.url, 'hup-2', s.secrets.get('hup-2'))).rejects.toMatchObject({ code: 4 });
    await grows(load.acked, 'hup-1 after SIGHUP');
    await load.stop();
    expect(s.node.child.exitCode).toBeNull();
  });
});
