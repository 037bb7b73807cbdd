import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpEndpoints } from '../gateway/index.js';
import { connectDevice, encodeBatch } from './harness/devices.js';
import { startTestGateway, type TestGateway } from './harness/gateway-node.js';
import { readLoggedMessages } from './harness/log-contents.js';
import { tempDir } from './harness/temp-dir.js';

const run = promisify(execFile);
let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.destroy();
  gw = undefined;
});

const reading = (seq: number): Buffer => encodeBatch({ seq, readings: [{ metric: 'm', timeUnixMs: Date.now(), doubleValue: seq }] });

describe('listeners', () => {
  it('ingests over TLS and over WebSocket as over TCP', async () => {
    const certs = await tempDir();
    const cert = join(certs.path, 'cert.pem');
    const key = join(certs.path, 'key.pem');
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=localhost', '-days', '1']);
    gw = await startTestGateway({ set: { 'auth.mode': 'anonymous', 'mqtt.tls.port': '0', 'mqtt.tls.cert': cert, 'mqtt.tls.key': key, 'mqtt.wsPort': '0' } });
    const { tls, ws } = gw.gateway.ports;
    expect(tls).toBeGreaterThan(0);
    expect(ws).toBeGreaterThan(0);
    const overTls = await connectDevice(`mqtts://127.0.0.1:${tls}`, 'tls-1', undefined, { username: undefined, rejectUnauthorized: false });
    await overTls.publishAsync('devices/tls-1/telemetry', reading(1), { qos: 1 });
    await overTls.endAsync();
    const overWs = await connectDevice(`ws://127.0.0.1:${ws}`, 'ws-1', undefined, { username: undefined });
    await overWs.publishAsync('devices/ws-1/telemetry', reading(2), { qos: 1 });
    await overWs.endAsync();
    const logged = await readLoggedMessages(gw.log);
    expect(logged.map((m) => [m.device, m.seq]).sort()).toEqual([['tls-1', 1], ['ws-1', 2]]);
    await certs.remove();
  });

  it('serves /metrics, /healthz and /readyz', async () => {
    gw = await startTestGateway({ set: { 'auth.mode': 'anonymous' } });
    let ready = false;
    const http = await startHttpEndpoints({ host: '127.0.0.1', port: 0 }, gw.registry, () => (ready ? undefined : 'starting'));
    const base = `http://127.0.0.1:${http.port}`;
    const device = await connectDevice(gw.url, 'http-1', undefined, { username: undefined });
    await device.publishAsync('devices/http-1/telemetry', reading(1), { qos: 1 });
    await device.endAsync();
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^sluice_gateway_messages_total\{kind="protobuf"\} 1$/m);
    expect(metrics).toMatch(/^sluice_gateway_readings_total 1$/m);
    expect(metrics).toMatch(/^sluice_gateway_log_append_seconds_count [1-9]/m);
    expect(metrics).toMatch(/^sluice_gateway_decode_seconds_count [1-9]/m);
    expect(metrics).toMatch(/^sluice_gateway_decode_batch_messages_count [1-9]/m);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toBe('not ready: starting\n');
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    await http.close();
  });
});
