/**
 * Telemetry nobody subscribes to skips aedes' routing (gateway/unrouted-publishes.ts);
 * these check that every subscriber still gets it: one that subscribes after a device has
 * been publishing for a while, and a persistent session's subscription while it is offline.
 */
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, expect, it } from 'vitest';
import { ReadingBatch } from '../proto/index.js';
import { connectDevice, encodeBatch } from './harness/devices.js';
import { startTestGateway, type TestGateway } from './harness/gateway-node.js';
import { readLoggedMessages } from './harness/log-contents.js';
import { tempDir } from './harness/temp-dir.js';

let gw: TestGateway | undefined;
const clients: MqttClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.endAsync(true);
  await gw?.destroy();
  gw = undefined;
});

const good = (seq: number): Buffer => encodeBatch({ seq, readings: [{ metric: 'ok', timeUnixMs: Date.now(), doubleValue: seq }] });

/** An anonymous gateway whose ACL lets anyone read and write anything (for subscribers). */
async function openGateway(): Promise<TestGateway> {
  const dir = await tempDir();
  const aclFile = join(dir.path, 'acl.conf');
  await writeFile(aclFile, 'pattern readwrite #\n');
  return startTestGateway({ dataDir: dir.path, set: { 'auth.mode': 'anonymous', 'acl.file': aclFile } });
}

async function connect(id: string, extra: Parameters<typeof connectDevice>[3] = {}): Promise<MqttClient> {
  const c = await connectDevice(gw!.url, id, undefined, { username: undefined, ...extra });
  clients.push(c);
  return c;
}

/** Collects the seqs of telemetry messages a client receives (and the QoS each came with, into `qos`), resolving once it has `n`. */
function received(client: MqttClient, n: number, qos: number[] = []): Promise<number[]> {
  const got: number[] = [];
  return new Promise((resolve) => {
    client.on('message', (topic, payload, packet) => {
      if (!topic.endsWith('/telemetry')) return;
      qos.push(packet.qos);
      if (got.push(Number(ReadingBatch.decode(payload).seq)) === n) resolve(got);
    });
  });
}

it('delivers telemetry to a subscriber that subscribes after the device has been publishing to no one', async () => {
  gw = await openGateway();
  const device = await connect('route-1');
  // Several publishes with nobody subscribed: the topic is known unsubscribed from the second on.
  for (let seq = 1; seq <= 5; seq++) await device.publishAsync('devices/route-1/telemetry', good(seq), { qos: 1 });
  const watcher = await connect('watcher-1');
  await watcher.subscribeAsync('devices/+/telemetry', { qos: 1 });
  const qos: number[] = [];
  const two = received(watcher, 2, qos);
  await device.publishAsync('devices/route-1/telemetry', good(6), { qos: 1 });
  await device.publishAsync('devices/route-1/telemetry', good(7), { qos: 0 });
  expect(await two).toEqual([6, 7]);
  // The gateway writes the device's PUBACKs itself (answerPublishes); subscribers still get each publish at its QoS.
  expect(qos).toEqual([1, 0]);
  const logged = (await readLoggedMessages(gw.log)).map((m) => m.seq);
  expect(logged.length).toBeGreaterThanOrEqual(6); // the QoS 0 one may still be on its way
  expect(logged.slice(0, 6)).toEqual([1, 2, 3, 4, 5, 6]);
});

it('queues telemetry for a persistent session\'s subscription while that client is offline', async () => {
  gw = await openGateway();
  const archiver = await connect('archiver-1', { clean: false });
  await archiver.subscribeAsync('devices/+/telemetry', { qos: 1 });
  await archiver.endAsync();
  clients.splice(clients.indexOf(archiver), 1);
  const device = await connect('route-2');
  for (let seq = 1; seq <= 5; seq++) await device.publishAsync('devices/route-2/telemetry', good(seq), { qos: 1 });
  // Back online, it gets what was published while it was away [MQTT-3.1.2-5].
  const back = mqtt.connect(gw.url, { clientId: 'archiver-1', clean: false, protocolVersion: 4, reconnectPeriod: 0 });
  clients.push(back);
  expect(await received(back, 5)).toEqual([1, 2, 3, 4, 5]);
});
