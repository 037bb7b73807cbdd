import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceRegistry } from '../gateway/index.js';
import { closed, deviceToken, encodeBatch } from './harness/devices.js';
import { SLUICE_BIN, spawnSluice, type SluiceProcess } from './harness/sluice-process.js';
import { createTestCa, type CertFiles, type TestCa } from './harness/test-ca.js';
import { tempDir } from './harness/temp-dir.js';

const run = promisify(execFile);
const FLEET_KEY = 'test-fleet-key-0123456789abcdef';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

interface Ports {
  mqtt: number;
  http: number;
  tls?: number;
  wss?: number;
}

interface Setup {
  dir: string;
  ca: TestCa;
  server: CertFiles;
  node: SluiceProcess;
  ports: Ports;
  registry: string;
}

async function setUp(set: string[], devices: string[] = []): Promise<Setup> {
  const tmp = await tempDir();
  cleanups.push(tmp.remove);
  const certs = join(tmp.path, 'certs');
  await mkdir(certs);
  const ca = await createTestCa(certs);
  const server = await ca.issue('server', 'localhost', 'IP:127.0.0.1');
  const registryPath = join(tmp.path, 'devices.json');
  const registry = await DeviceRegistry.load(registryPath, { scryptCost: 1024 });
  for (const id of devices) await registry.add(id);
  await registry.save();
  const node = spawnSluice([
    'gateway', '--data-dir', join(tmp.path, 'data'), '--http-port', '0',
    '--set', 'mqtt.host=127.0.0.1', '--set', 'http.host=127.0.0.1', '--set', `auth.registry=${registryPath}`,
    '--set', 'mqtt.tls.port=0', '--set', `mqtt.tls.cert=${server.cert}`, '--set', `mqtt.tls.key=${server.key}`, '--set', `mqtt.tls.ca=${ca.ca}`,
    ...set.flatMap((s) => ['--set', s]),
  ]);
  cleanups.push(async () => {
    if (node.child.exitCode === null) node.child.kill('SIGKILL');
    await node.exited;
  });
  await node.ready;
  const readyLine = node.output.find((l) => l.includes('sluice ready'))!;
  return { dir: certs, ca, server, node, ports: (JSON.parse(readyLine) as { ports: Ports }).ports, registry: registryPath };
}

/** Connects over mqtts:// or wss:// as `clientId`, trusting the test CA, with a client certificate when given. */
async function connectSecure(s: Setup, scheme: 'mqtts' | 'wss', clientId: string, cert?: CertFiles, extra: IClientOptions = {}): Promise<MqttClient> {
  const port = scheme === 'mqtts' ? s.ports.tls : s.ports.wss;
  // allowRetries false: a handshake the server ends without an alert (a certificate it does
  // not verify) is a close, and must reject rather than wait for a reconnect that never comes.
  const client = await mqtt.connectAsync(`${scheme}://127.0.0.1:${port}`, {
    clientId,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ca: s.ca.caPem,
    ...(cert ? { cert: cert.pem.cert, key: cert.pem.key } : {}),
    ...extra,
  }, false);
  cleanups.push(() => client.endAsync(true));
  return client;
}

const reading = (seq: number): Buffer => encodeBatch({ seq, readings: [{ metric: 'm', timeUnixMs: Date.now(), doubleValue: seq }] });

describe('TLS as devices use it', () => {
  it('admits a device by its client certificate over TLS and WSS, refuses one without or with an unknown CA, and has no plain TCP listener', { timeout: 60_000 }, async () => {
    const s = await setUp(['mqtt.tcp=false', 'mqtt.tls.requireClientCert=true', 'mqtt.wssPort=0', 'auth.mode=registry'], ['cert-dev-1']);
    expect(s.ports.mqtt).toBe(0); // no TCP listener
    expect(s.ports.tls).toBeGreaterThan(0);
    expect(s.ports.wss).toBeGreaterThan(0);
    const device = await s.ca.issue('dev1', 'cert-dev-1');
    const rogue = await s.ca.selfSigned('rogue', 'cert-dev-1');

    // The certificate is the credential: no username, no password.
    const overTls = await connectSecure(s, 'mqtts', 'cert-dev-1', device);
    await overTls.publishAsync('devices/cert-dev-1/telemetry', reading(1), { qos: 1 });
    await overTls.endAsync();
    const overWss = await connectSecure(s, 'wss', 'cert-dev-1', device);
    await overWss.publishAsync('devices/cert-dev-1/telemetry', reading(2), { qos: 1 });
    await overWss.endAsync();

    for (const scheme of ['mqtts', 'wss'] as const) {
      await expect(connectSecure(s, scheme, 'cert-dev-1'), `${scheme} without a certificate`).rejects.toThrow();
      await expect(connectSecure(s, scheme, 'cert-dev-1', rogue), `${scheme} with a self-signed certificate`).rejects.toThrow();
    }
    // A certificate for one device cannot claim another's id.
    await expect(connectSecure(s, 'mqtts', 'cert-dev-1', device, { username: 'someone-else' })).rejects.toMatchObject({ code: 5 });

    // The registry stays the revocation list: removing the device disconnects and refuses it.
    const again = await connectSecure(s, 'mqtts', 'cert-dev-1', device);
    const gone = closed(again);
    await run(process.execPath, [SLUICE_BIN, 'devices', 'remove', 'cert-dev-1', '--set', `auth.registry=${s.registry}`]);
    await gone;
    await expect(connectSecure(s, 'mqtts', 'cert-dev-1', device)).rejects.toMatchObject({ code: 5 });
    const metrics = await (await fetch(`http://127.0.0.1:${s.ports.http}/metrics`)).text();
    expect(Number(/^sluice_gateway_connections_refused_total\{reason="tls_handshake"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(4);
  });

  it('takes a certificate or a token on the same listener when client certificates are optional, with the identity from the SAN', { timeout: 60_000 }, async () => {
    const s = await setUp(['auth.mode=token', `auth.fleetKey=${FLEET_KEY}`, 'mqtt.tls.identity=san', 'mqtt.port=0']);
    expect(s.ports.mqtt).toBeGreaterThan(0); // TCP stays on by default
    const bySan = await s.ca.issue('san', 'not-the-id', 'DNS:san-dev-1');
    const withCert = await connectSecure(s, 'mqtts', 'san-dev-1', bySan);
    await withCert.publishAsync('devices/san-dev-1/telemetry', reading(1), { qos: 1 });
    await withCert.endAsync();
    const withToken = await connectSecure(s, 'mqtts', 'tok-dev-1', undefined, { username: 'tok-dev-1', password: deviceToken(FLEET_KEY, 'tok-dev-1') });
    await withToken.publishAsync('devices/tok-dev-1/telemetry', reading(1), { qos: 1 });
    await withToken.endAsync();
    // Neither: refused as before.
    await expect(connectSecure(s, 'mqtts', 'tok-dev-1', undefined, { username: 'tok-dev-1', password: 'wrong' })).rejects.toMatchObject({ code: 4 });
    // A self-signed certificate names nobody: without a token it is refused.
    const rogue = await s.ca.selfSigned('rogue', 'x');
    await expect(connectSecure(s, 'mqtts', 'san-dev-1', rogue)).rejects.toMatchObject({ code: 4 });
  });
});
