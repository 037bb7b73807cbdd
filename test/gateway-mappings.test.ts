/**
 * ingest.mappings end to end through a real gateway: the real mosquitto_pub publishes flat
 * and nested JSON on mapped topics, and what reached the log is read back reading by
 * reading. Registry mode, so devices and a service authenticate as they would in production.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ACL } from '../gateway/auth/index.js';
import { DeviceRegistry, readDeadLetters } from '../gateway/index.js';
import { closed, connectDevice } from './harness/devices.js';
import { startTestGateway, type TestGateway } from './harness/gateway-node.js';
import { readLoggedMessages, type LoggedMessage } from './harness/log-contents.js';

const run = promisify(execFile);

const MAPPINGS = [
  {
    name: 'factory',
    topic: 'factory/+site/+device/telemetry',
    timestamp: { field: 'ts', format: 'rfc3339' },
    tags: { fromTopic: ['site'], fromFields: ['fw'] },
  },
  { name: 'sensors', topic: 'sensors/+id/json', device: 'id', separator: '_', timestamp: { field: 'time', format: 'unix_ns' } },
];

let gw: TestGateway;
const secrets: Record<string, string> = {};

beforeAll(async () => {
  // inlineMaxBytes 0: every job goes to a decode worker, so the mappings must arrive through workerData.
  const set: Record<string, string> = { 'auth.mode': 'registry', 'ingest.mappings': JSON.stringify(MAPPINGS), 'decode.inlineMaxBytes': '0' };
  const first = await startTestGateway({ set });
  // The device rules, and a deny that a mapping's grant must not override.
  set['acl.file'] = join(first.dataDir, 'acl.conf');
  await writeFile(set['acl.file'], `${DEFAULT_ACL}topic deny factory/secret/#\n`);
  const registry = await DeviceRegistry.load(first.config.auth.registry, { scryptCost: 1024 });
  for (const id of ['press-1', 'pump-7']) secrets[id] = await registry.add(id);
  secrets.bridge = await registry.add('bridge', { role: 'service' });
  await registry.save();
  await first.stop();
  gw = await startTestGateway({ dataDir: first.dataDir, set });
});
afterAll(async () => {
  await gw?.destroy();
});

/** Publishes one message with the real mosquitto_pub at QoS 1: it exits 0 once the PUBACK came. */
async function mosquittoPub(id: string, topic: string, message: string): Promise<void> {
  await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(gw.port), '-i', id, '-u', id, '-P', secrets[id]!, '-q', '1', '-t', topic, '-m', message], { timeout: 10_000 });
}

/** Publishes at QoS 1 and says what came first: the PUBACK, or the connection closing. */
function publishOutcome(client: MqttClient, topic: string, message: string): Promise<'acked' | 'closed'> {
  const gone = closed(client).then(() => 'closed' as const);
  return Promise.race([gone, client.publishAsync(topic, message, { qos: 1 }).then(() => 'acked' as const, () => gone)]);
}

/** The logged messages of one device, readings sorted by metric. */
async function loggedFor(device: string): Promise<LoggedMessage[]> {
  return (await readLoggedMessages(gw.log))
    .filter((m) => m.device === device)
    .map((m) => ({ ...m, readings: m.readings.sort((a, b) => a.metric.localeCompare(b.metric)), text: m.text.sort((a, b) => a.metric.localeCompare(b.metric)) }));
}

describe('ingest.mappings with mosquitto_pub', () => {
  it('takes flat JSON on a mapped topic: every field a reading, tags from the topic level and a field, time from the RFC 3339 field', async () => {
    const t = Date.now() - 5000;
    await mosquittoPub('press-1', 'factory/oslo/press-1/telemetry', JSON.stringify({ temperature: 21.5, pressure: 1013, running: true, fw: '1.2', ts: new Date(t).toISOString() }));
    const logged = await loggedFor('press-1');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ device: 'press-1', deviceTags: '', seq: 0 });
    expect(logged[0]!.readings).toEqual([
      { metric: 'pressure', tags: 'fw=1.2,site=oslo', time: t, value: 1013 },
      { metric: 'temperature', tags: 'fw=1.2,site=oslo', time: t, value: 21.5 },
    ]);
    expect(logged[0]!.text).toEqual([{ metric: 'running', time: t, kind: 1, value: 1 }]);
    expect(await gw.metric('sluice_gateway_messages_total', { kind: 'mapped' })).toBeGreaterThanOrEqual(1);
  });

  it('takes nested JSON on a second mapping: paths joined by its separator, time from nanoseconds', async () => {
    const t = Date.now() - 3000;
    const doc = { env: { t: 20.25, hum: { rel: 40 } }, pump: { on: false, mode: 'auto' }, time: `${t}123456` };
    await mosquittoPub('pump-7', 'sensors/pump-7/json', JSON.stringify(doc));
    const logged = await loggedFor('pump-7');
    expect(logged).toHaveLength(1);
    expect(logged[0]!.readings).toEqual([
      { metric: 'env_hum_rel', tags: '', time: t, value: 40 },
      { metric: 'env_t', tags: '', time: t, value: 20.25 },
    ]);
    expect(logged[0]!.text).toEqual([
      { metric: 'pump_mode', time: t, kind: 2, value: 'auto' },
      { metric: 'pump_on', time: t, kind: 1, value: 0 },
    ]);
  });

  it('takes every message of a connection that keeps publishing on its mapped topic', async () => {
    const device = await connectDevice(gw.url, 'press-1', secrets['press-1']);
    const times = [3, 2, 1].map((s) => Date.now() - s * 1000);
    for (const [i, t] of times.entries()) await device.publishAsync('factory/bergen/press-1/telemetry', JSON.stringify({ rpm: i, ts: new Date(t).toISOString() }), { qos: 1 });
    await device.endAsync();
    const rpm = (await loggedFor('press-1')).flatMap((m) => m.readings.filter((r) => r.metric === 'rpm'));
    expect(rpm).toEqual(times.map((t, i) => ({ metric: 'rpm', tags: 'site=bergen', time: t, value: i })));
  });

  it('lets a service publish for any device on a mapped topic', async () => {
    const t = Date.now() - 1000;
    await mosquittoPub('bridge', 'factory/bergen/pump-7/telemetry', JSON.stringify({ flow: 3.5, ts: new Date(t).toISOString() }));
    const logged = (await loggedFor('pump-7')).filter((m) => m.readings.some((r) => r.metric === 'flow'));
    expect(logged.map((m) => m.readings)).toEqual([[{ metric: 'flow', tags: 'site=bergen', time: t, value: 3.5 }]]);
  });

  it('refuses a payload the mapping cannot take: counted by reason, dead-lettered with the mapping name', async () => {
    const before = (await readLoggedMessages(gw.log)).length;
    const payload = JSON.stringify({ samples: [1, 2, 3], time: `${Date.now()}000000` });
    await mosquittoPub('pump-7', 'sensors/pump-7/json', payload);
    expect(await gw.metric('sluice_gateway_rejected_total', { reason: 'value_unsupported' })).toBe(1);
    expect(await gw.metric('sluice_gateway_rejected_total')).toBe(1);
    expect(await readLoggedMessages(gw.log)).toHaveLength(before);
    // Its dead letter (written in the background) is read by the last test, after the gateway stops: a stop flushes it.
  });

  it('closes the connection of a device publishing on a mapped topic under another device id, as an ACL denial', async () => {
    const device = await connectDevice(gw.url, 'press-1', secrets['press-1']);
    expect(await publishOutcome(device, 'factory/oslo/pump-7/telemetry', JSON.stringify({ temperature: 99 }))).toBe('closed');
    expect(await gw.metric('sluice_gateway_publishes_refused_total', { reason: 'acl_publish' })).toBe(1);
    expect((await loggedFor('pump-7')).flatMap((m) => m.readings.map((r) => r.metric))).not.toContain('temperature');
    device.end(true);
  });

  it('refuses a mapped topic an ACL deny rule matches, even for a service', async () => {
    const bridge = await connectDevice(gw.url, 'bridge', secrets.bridge);
    expect(await publishOutcome(bridge, 'factory/secret/pump-7/telemetry', JSON.stringify({ leak: 1 }))).toBe('closed');
    expect(await gw.metric('sluice_gateway_publishes_refused_total', { reason: 'acl_publish' })).toBe(2);
    expect((await loggedFor('pump-7')).flatMap((m) => m.readings.map((r) => r.metric))).not.toContain('leak');
    bridge.end(true);
  });

  it('applies a reloaded ACL to a mapped topic a connection already published on', async () => {
    const device = await connectDevice(gw.url, 'pump-7', secrets['pump-7']);
    const topic = 'sensors/pump-7/json';
    expect(await publishOutcome(device, topic, JSON.stringify({ level: 1, time: `${Date.now()}000000` }))).toBe('acked');
    await writeFile(gw.config.acl.file!, `${DEFAULT_ACL}topic deny factory/secret/#\ntopic deny sensors/#\n`);
    await gw.gateway.reload();
    expect(await publishOutcome(device, topic, JSON.stringify({ level: 2, time: `${Date.now()}000000` }))).toBe('closed');
    expect(await gw.metric('sluice_gateway_publishes_refused_total', { reason: 'acl_publish' })).toBe(3);
    expect((await loggedFor('pump-7')).flatMap((m) => m.readings.filter((r) => r.metric === 'level').map((r) => r.value))).toEqual([1]);
    device.end(true);
  });

  it('has dead-lettered the refused payload with the mapping name', async () => {
    await gw.stop(); // flushes the dead letters
    const letters = await readDeadLetters(gw.dataDir);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ device: 'pump-7', reason: 'value_unsupported', mapping: 'sensors', detail: expect.stringMatching(/^field "samples" is an array/) });
  });
});
