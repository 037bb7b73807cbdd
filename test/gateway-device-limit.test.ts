/**
 * decode.maxDevicesPerIdentity through a real gateway: a service on a mapped topic and a
 * Sparkplug B edge node name their devices in their topics; one that cycles device names
 * is refused past its allowance (counted, dead-lettered, PUBACKed), while the devices it
 * already has and every other identity go on. Registry mode, mqtt.js over TCP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceRegistry, readDeadLetters } from '../gateway/index.js';
import { SparkplugDataType as T, SparkplugPayload, type SparkplugPayloadProps } from '../proto/index.js';
import { connectDevice } from './harness/devices.js';
import { startTestGateway, type TestGateway } from './harness/gateway-node.js';
import { readLoggedMessages, readLoggedStatus } from './harness/log-contents.js';

const MAPPINGS = [{ name: 'sensors', topic: 'sensors/+id/json', device: 'id', timestamp: { field: 'time', format: 'unix_ms' } }];

let gw: TestGateway;
const secrets: Record<string, string> = {};

beforeAll(async () => {
  const set: Record<string, string> = {
    'auth.mode': 'registry',
    'ingest.mappings': JSON.stringify(MAPPINGS),
    'ingest.sparkplug': 'true',
    'decode.maxDevicesPerIdentity': '3',
  };
  const first = await startTestGateway({ set });
  const registry = await DeviceRegistry.load(first.config.auth.registry, { scryptCost: 1024 });
  for (const id of ['bridge', 'bridge2']) secrets[id] = await registry.add(id, { role: 'service' });
  secrets.edge1 = await registry.add('edge1');
  await registry.save();
  await first.stop();
  gw = await startTestGateway({ dataDir: first.dataDir, set });
});
afterAll(async () => {
  await gw?.destroy();
});

const reading = (value: number): string => JSON.stringify({ level: value, time: Date.now() });

describe('distinct devices per identity', () => {
  it('refuses a service publishing for a new device past its allowance, keeps its known devices and other services flowing, across reconnects', async () => {
    const bridge = await connectDevice(gw.url, 'bridge', secrets.bridge);
    for (const [i, id] of ['s-1', 's-2', 's-3', 's-4', 's-5', 's-1'].entries()) await bridge.publishAsync(`sensors/${id}/json`, reading(i), { qos: 1 });
    expect(bridge.connected).toBe(true);
    await bridge.endAsync();
    // A reconnect starts no new allowance; another service has its own.
    const again = await connectDevice(gw.url, 'bridge', secrets.bridge);
    await again.publishAsync('sensors/s-4/json', reading(6), { qos: 1 });
    await again.publishAsync('sensors/s-3/json', reading(7), { qos: 1 });
    await again.endAsync();
    const other = await connectDevice(gw.url, 'bridge2', secrets.bridge2);
    await other.publishAsync('sensors/s-4/json', reading(8), { qos: 1 });
    await other.endAsync();

    const logged = (await readLoggedMessages(gw.log)).filter((m) => m.device.startsWith('s-'));
    // The log is per partition: ordered here by the value each publish carried.
    expect(logged.map((m) => [m.device, m.readings[0]!.value]).sort((a, b) => Number(a[1]) - Number(b[1]))).toEqual([['s-1', 0], ['s-2', 1], ['s-3', 2], ['s-1', 5], ['s-3', 7], ['s-4', 8]]);
    expect(await gw.metric('sluice_gateway_rejected_total', { reason: 'device_limit' })).toBe(3);
  });

  it('refuses an edge node cycling device names past its allowance: no birth status, no readings', async () => {
    const edge = await connectDevice(gw.url, 'edge1', secrets.edge1);
    const t = Date.now() - 1000;
    const publish = (topic: string, seq: number, metrics: SparkplugPayloadProps['metrics']) => edge.publishAsync(topic, Buffer.from(SparkplugPayload.encode({ timestamp: t + seq, seq, metrics }).finish()), { qos: 1 });
    await publish('spBv1.0/plant/NBIRTH/edge1', 0, [{ name: 'bdSeq', datatype: T.UInt64, longValue: 0 }, { name: 'Uptime', alias: 1, datatype: T.UInt64, longValue: 1 }]);
    // The node's own data is one device (plant:edge1), so two of its devices fit.
    for (let d = 1; d <= 4; d++) await publish(`spBv1.0/plant/DBIRTH/edge1/d${d}`, d, [{ name: 'Flow', alias: 10, datatype: T.Float, floatValue: d }]);
    await edge.endAsync();

    const devices = (await readLoggedMessages(gw.log)).filter((m) => m.device.startsWith('plant:')).map((m) => m.device).sort();
    expect(devices).toEqual(['plant:edge1', 'plant:edge1:d1', 'plant:edge1:d2']);
    const births = (await readLoggedStatus(gw.log)).filter((s) => s.event === 'DBIRTH').map((s) => s.device).sort();
    expect(births).toEqual(['plant:edge1:d1', 'plant:edge1:d2']);
    expect(await gw.metric('sluice_gateway_rejected_total', { reason: 'device_limit' })).toBe(5);
  });

  it('dead-letters each refused publish under the device it named, saying why and what to do', async () => {
    await gw.stop(); // flushes the dead letters
    const letters = (await readDeadLetters(gw.dataDir)).filter((l) => l.reason === 'device_limit');
    expect(letters.map((l) => l.device)).toEqual(['s-4', 's-5', 's-4', 'plant:edge1:d3', 'plant:edge1:d4']);
    expect(letters[0]!.detail).toBe('bridge already publishes for 3 devices besides its own; raise decode.maxDevicesPerIdentity to take more');
  });
});
