/**
 * Sparkplug B ingest end to end through a real gateway (ingest.sparkplug): a simulated
 * edge node with two devices, over TCP with the real mqtt.js client, publishes births and
 * aliased data; what reached the log is read back reading by reading. Registry mode: the
 * edge node authenticates with its edge node id as username, as in production. Publishes
 * are QoS 1 (Sparkplug uses 0) so the PUBACK says the batch is durable and the test can
 * read the log; the gateway treats both alike.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceRegistry, readDeadLetters } from '../gateway/index.js';
import { SparkplugDataType as T, SparkplugPayload, type SparkplugPayloadProps } from '../proto/index.js';
import { closed, connectDevice } from './harness/devices.js';
import { startTestGateway, type TestGateway } from './harness/gateway-node.js';
import { readLoggedMessages, readLoggedStatus, type LoggedMessage } from './harness/log-contents.js';

let gw: TestGateway;
const secrets: Record<string, string> = {};

beforeAll(async () => {
  // inlineMaxBytes 0: every job goes to a decode worker, so the alias tables must travel in the job.
  const set: Record<string, string> = { 'auth.mode': 'registry', 'ingest.sparkplug': 'true', 'decode.inlineMaxBytes': '0' };
  const first = await startTestGateway({ set });
  const registry = await DeviceRegistry.load(first.config.auth.registry, { scryptCost: 1024 });
  for (const id of ['edge1', 'edge2', 'edge3']) secrets[id] = await registry.add(id);
  secrets.host = await registry.add('host', { role: 'service' });
  await registry.save();
  await first.stop();
  gw = await startTestGateway({ dataDir: first.dataDir, set });
});
afterAll(async () => {
  await gw?.destroy();
});

const encode = (p: SparkplugPayloadProps): Buffer => Buffer.from(SparkplugPayload.encode(p).finish());

/** An edge node: connected, subscribed to its NCMD topic, collecting what arrives there. */
async function edgeNode(id: string): Promise<{ client: MqttClient; ncmd: ReturnType<typeof SparkplugPayload.decode>[]; publish: (topic: string, p: SparkplugPayloadProps | Buffer) => Promise<void> }> {
  const client = await connectDevice(gw.url, id, secrets[id]);
  const ncmd: ReturnType<typeof SparkplugPayload.decode>[] = [];
  client.on('message', (topic, payload) => {
    if (topic === `spBv1.0/plant/NCMD/${id}`) ncmd.push(SparkplugPayload.decode(payload));
  });
  const granted = await client.subscribeAsync(`spBv1.0/plant/NCMD/${id}`, { qos: 0 });
  expect(granted[0]!.qos).toBe(0); // not 0x80: the default ACL lets it read its own NCMD
  const publish = async (topic: string, p: SparkplugPayloadProps | Buffer) => {
    await client.publishAsync(topic, Buffer.isBuffer(p) ? p : encode(p), { qos: 1 });
  };
  return { client, ncmd, publish };
}

async function loggedFor(device: string): Promise<LoggedMessage[]> {
  return (await readLoggedMessages(gw.log))
    .filter((m) => m.device === device)
    .map((m) => ({ ...m, readings: m.readings.sort((a, b) => a.metric.localeCompare(b.metric)), text: m.text.sort((a, b) => a.metric.localeCompare(b.metric)) }));
}

/** The status records of an edge node and its devices in the log, as `device event online|offline time`. */
async function statusOf(group: string, edge: string): Promise<string[]> {
  return (await readLoggedStatus(gw.log))
    .filter((s) => s.device === `${group}:${edge}` || s.device.startsWith(`${group}:${edge}:`))
    .sort((a, b) => a.time - b.time || a.device.localeCompare(b.device))
    .map((s) => `${s.device} ${s.event} ${s.online ? 'online' : 'offline'} ${s.time} ${s.tags}`);
}

async function eventually(check: () => Promise<void> | void, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe('Sparkplug B ingest with mqtt.js over TCP', () => {
  it('takes births and aliased data of an edge node and two devices, each under its own device id', async () => {
    const edge = await edgeNode('edge1');
    const t0 = Date.now() - 10_000;
    await edge.publish('spBv1.0/plant/NBIRTH/edge1', {
      timestamp: t0,
      seq: 0,
      metrics: [
        { name: 'bdSeq', datatype: T.UInt64, longValue: 0 },
        { name: 'Node Control/Rebirth', datatype: T.Boolean, booleanValue: false },
        { name: 'Uptime', alias: 1, datatype: T.UInt64, longValue: 100 },
      ],
    });
    await edge.publish('spBv1.0/plant/DBIRTH/edge1/pump', {
      timestamp: t0 + 1,
      seq: 1,
      metrics: [
        { name: 'Flow Rate', alias: 10, datatype: T.Float, floatValue: 1.5 },
        { name: 'Running', alias: 11, datatype: T.Boolean, booleanValue: true },
      ],
    });
    await edge.publish('spBv1.0/plant/DBIRTH/edge1/valve', {
      timestamp: t0 + 2,
      seq: 2,
      metrics: [
        { name: 'Position', alias: 20, datatype: T.Int32, intValue: -3 >>> 0 },
        { name: 'Mode', alias: 21, datatype: T.String, stringValue: 'auto' },
      ],
    });
    const t1 = t0 + 1000;
    await edge.publish('spBv1.0/plant/DDATA/edge1/pump', { timestamp: t1, seq: 3, metrics: [{ alias: 10, floatValue: 2.5, timestamp: t1 - 500 }, { alias: 11, booleanValue: false }] });
    await edge.publish('spBv1.0/plant/DDATA/edge1/valve', { timestamp: t1 + 1, seq: 4, metrics: [{ alias: 20, intValue: 7 }, { name: 'Mode', stringValue: 'manual' }] });
    await edge.publish('spBv1.0/plant/NDATA/edge1', { timestamp: t1 + 2, seq: 5, metrics: [{ alias: 1, longValue: 160 }] });

    const node = await loggedFor('plant:edge1');
    expect(node.map((m) => m.readings)).toEqual([[{ metric: 'Uptime', tags: '', time: t0, value: 100 }], [{ metric: 'Uptime', tags: '', time: t1 + 2, value: 160 }]]);
    expect(node.every((m) => m.seq === 0 && m.text.length === 0)).toBe(true);
    const pump = await loggedFor('plant:edge1:pump');
    expect(pump.map((m) => [m.readings, m.text])).toEqual([
      [[{ metric: 'Flow_Rate', tags: '', time: t0 + 1, value: 1.5 }], [{ metric: 'Running', time: t0 + 1, kind: 1, value: 1 }]],
      [[{ metric: 'Flow_Rate', tags: '', time: t1 - 500, value: 2.5 }], [{ metric: 'Running', time: t1, kind: 1, value: 0 }]],
    ]);
    const valve = await loggedFor('plant:edge1:valve');
    expect(valve.map((m) => [m.readings, m.text])).toEqual([
      [[{ metric: 'Position', tags: '', time: t0 + 2, value: -3 }], [{ metric: 'Mode', time: t0 + 2, kind: 2, value: 'auto' }]],
      [[{ metric: 'Position', tags: '', time: t1 + 1, value: 7 }], [{ metric: 'Mode', time: t1 + 1, kind: 2, value: 'manual' }]],
    ]);
    expect(await gw.metric('sluice_gateway_messages_total', { kind: 'sparkplug' })).toBe(6);
    // Each birth is also a status record, at its payload's timestamp (QoS 1: in the log before the PUBACK).
    expect(await statusOf('plant', 'edge1')).toEqual([
      `plant:edge1 NBIRTH online ${t0} edge=edge1,group=plant,kind=node`,
      `plant:edge1:pump DBIRTH online ${t0 + 1} edge=edge1,group=plant,kind=device`,
      `plant:edge1:valve DBIRTH online ${t0 + 2} edge=edge1,group=plant,kind=device`,
    ]);
    expect(await gw.metric('sluice_gateway_sparkplug_rebirths_total')).toBe(0);
    expect(edge.ncmd).toEqual([]);

    // An alias the pump's DBIRTH did not define: refused with the reason, and a rebirth requested.
    await edge.publish('spBv1.0/plant/DDATA/edge1/pump', { seq: 6, metrics: [{ alias: 99, floatValue: 1 }] });
    expect(await gw.metric('sluice_gateway_rejected_total', { reason: 'sparkplug_alias_unknown' })).toBe(1);
    await eventually(() => expect(edge.ncmd).toHaveLength(1));
    expect(edge.ncmd[0]!.metrics[0]).toMatchObject({ name: 'Node Control/Rebirth', datatype: T.Boolean, booleanValue: true });
    expect(await gw.metric('sluice_gateway_sparkplug_rebirths_total', { reason: 'alias_unknown' })).toBe(1);
    await eventually(async () => {
      const letter = (await readDeadLetters(gw.dataDir)).find((l) => l.reason === 'sparkplug_alias_unknown');
      expect(letter).toMatchObject({ device: 'plant:edge1:pump', detail: 'metrics[0]: alias 99 is unknown: not in the last birth certificate of plant/edge1/pump' });
    });
    expect((await loggedFor('plant:edge1:pump')).length).toBe(2);
    await edge.client.endAsync();
  });

  it('requests a rebirth on a seq gap and still takes the data', async () => {
    const edge = await edgeNode('edge2');
    const t = Date.now() - 5000;
    await edge.publish('spBv1.0/plant/NBIRTH/edge2', { seq: 0, timestamp: t, metrics: [{ name: 'bdSeq', datatype: T.UInt64, longValue: 0 }, { name: 'Temp', alias: 1, datatype: T.Double, doubleValue: 20 }] });
    await edge.publish('spBv1.0/plant/NDATA/edge2', { seq: 1, timestamp: t + 1, metrics: [{ alias: 1, doubleValue: 21 }] });
    expect(edge.ncmd).toEqual([]);
    await edge.publish('spBv1.0/plant/NDATA/edge2', { seq: 5, timestamp: t + 2, metrics: [{ alias: 1, doubleValue: 22 }] }); // 2–4 lost
    await eventually(() => expect(edge.ncmd).toHaveLength(1));
    expect(edge.ncmd[0]!.metrics[0]).toMatchObject({ name: 'Node Control/Rebirth', booleanValue: true });
    expect(await gw.metric('sluice_gateway_sparkplug_rebirths_total', { reason: 'seq' })).toBe(1);
    const logged = await loggedFor('plant:edge2');
    expect(logged.flatMap((m) => m.readings.map((r) => [r.time, r.value]))).toEqual([[t, 20], [t + 1, 21], [t + 2, 22]]);
    // A death takes no readings into the log, only a status record; a stale one (another birth's bdSeq) not even that.
    await edge.publish('spBv1.0/plant/NDEATH/edge2', { metrics: [{ name: 'bdSeq', datatype: T.UInt64, longValue: 9 }] });
    const died = Date.now();
    await edge.publish('spBv1.0/plant/NDEATH/edge2', { timestamp: t - 60_000, metrics: [{ name: 'bdSeq', datatype: T.UInt64, longValue: 0 }] });
    expect((await loggedFor('plant:edge2')).length).toBe(3);
    const status = await readLoggedStatus(gw.log);
    expect(status.filter((r) => r.device === 'plant:edge2').map((r) => [r.event, r.online, r.time])).toEqual([['NBIRTH', true, t], ['NDEATH', false, expect.any(Number)]]);
    const death = status.find((r) => r.event === 'NDEATH' && r.device === 'plant:edge2')!;
    expect(death.time).toBeGreaterThanOrEqual(died); // the receive time, not the payload's
    expect(death.time).toBeLessThanOrEqual(Date.now());
    await edge.client.endAsync();
  });

  it('refuses a malformed payload and ids that map to no device id, with reasons, and keeps the connection', async () => {
    const edge = await edgeNode('edge3');
    await edge.publish('spBv1.0/plant/NBIRTH/edge3', { seq: 0, metrics: [{ name: 'bdSeq', datatype: T.UInt64, longValue: 0 }, { name: 'x', alias: 1, datatype: T.Double, doubleValue: 1 }] });
    await edge.publish('spBv1.0/plant/NDATA/edge3', Buffer.from([0x12, 0x20, 0x01]));
    expect(await gw.metric('sluice_gateway_rejected_total', { reason: 'decode_error' })).toBe(1);
    await edge.publish('spBv1.0/plant/DDATA/edge3/pump 1', { seq: 2, metrics: [{ name: 'x', datatype: T.Double, doubleValue: 1 }] });
    expect(await gw.metric('sluice_gateway_rejected_total', { reason: 'sparkplug_topic_invalid' })).toBe(1);
    await edge.publish('spBv1.0/plant/DDATA/edge3/pump', { seq: 3, metrics: [{ name: 'DS', datatype: T.DataSet, datasetValue: { numOfColumns: 1, columns: ['a'], types: [T.Int32], rows: [] } }] });
    expect(await gw.metric('sluice_gateway_rejected_total', { reason: 'value_unsupported' })).toBe(1);
    await eventually(async () => {
      const letters = await readDeadLetters(gw.dataDir);
      expect(letters.find((l) => l.reason === 'sparkplug_topic_invalid')).toMatchObject({ device: 'edge3', detail: expect.stringMatching(/^spBv1.0\/plant\/DDATA\/edge3\/pump 1: device id "pump 1" is not/) });
      expect(letters.find((l) => l.reason === 'value_unsupported')).toMatchObject({ device: 'plant:edge3:pump', detail: expect.stringMatching(/"DS": datatype DataSet is not supported/) });
    });
    expect(edge.client.connected).toBe(true);
    await edge.client.endAsync();
  });

  it('lets a service publish for any edge node', async () => {
    const host = await connectDevice(gw.url, 'host', secrets.host);
    await host.publishAsync('spBv1.0/plant/NBIRTH/edge9', encode({ seq: 0, timestamp: Date.now() - 1000, metrics: [{ name: 'Level', datatype: T.Double, doubleValue: 0.5 }] }), { qos: 1 });
    expect((await loggedFor('plant:edge9')).map((m) => m.readings.map((r) => r.value))).toEqual([[0.5]]);
    await host.endAsync();
  });

  it('closes an edge node that publishes under another edge node id', async () => {
    const edge = await edgeNode('edge3');
    const gone = closed(edge.client);
    edge.client.publish('spBv1.0/plant/NDATA/edge1', encode({ seq: 1, metrics: [{ name: 'x', doubleValue: 1 }] }), { qos: 1 });
    await gone;
    expect(await gw.metric('sluice_gateway_publishes_refused_total', { reason: 'acl_publish' })).toBe(1);
    expect((await loggedFor('plant:edge1')).length).toBe(2);
  });
});

describe('Sparkplug B ingest in anonymous mode, at QoS 0 as Sparkplug publishes', () => {
  let anon: TestGateway;
  beforeAll(async () => {
    anon = await startTestGateway({ set: { 'auth.mode': 'anonymous', 'ingest.sparkplug': 'true' } });
  });
  afterAll(async () => {
    await anon?.destroy();
  });

  it('takes an edge node by its username, lets it read its own NCMD and not another\'s', async () => {
    const client = await connectDevice(anon.url, 'edgeA', undefined);
    expect((await client.subscribeAsync('spBv1.0/site/NCMD/edgeA'))[0]!.qos).toBe(0);
    await expect(client.subscribeAsync('spBv1.0/site/NCMD/edgeB')).rejects.toThrow(/Subscribe error/); // SUBACK 0x80
    const t = Date.now() - 2000;
    client.publish('spBv1.0/site/NBIRTH/edgeA', encode({ seq: 0, timestamp: t, metrics: [{ name: 'bdSeq', datatype: T.UInt64, longValue: 0 }, { name: 'Temp', alias: 1, datatype: T.Double, doubleValue: 20 }] }), { qos: 0 });
    client.publish('spBv1.0/site/NDATA/edgeA', encode({ seq: 1, timestamp: t + 1, metrics: [{ alias: 1, doubleValue: 21 }] }), { qos: 0 });
    await eventually(async () => {
      const logged = (await readLoggedMessages(anon.log)).filter((m) => m.device === 'site:edgeA');
      expect(logged.flatMap((m) => m.readings.map((r) => [r.metric, r.time, r.value]))).toEqual([['Temp', t, 20], ['Temp', t + 1, 21]]);
    });
    await client.endAsync();
  });
});
