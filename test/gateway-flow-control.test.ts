import { afterEach, describe, expect, it } from 'vitest';
import { connectDevice, encodeBatch } from './harness/devices.js';
import { GatedLog } from './harness/gated-log.js';
import { startTestGateway, type TestGateway } from './harness/gateway-node.js';
import { readLoggedMessages } from './harness/log-contents.js';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.destroy();
  gw = undefined;
});

const reading = (seq: number): Buffer => encodeBatch({ seq, readings: [{ metric: 'm', timeUnixMs: Date.now(), doubleValue: seq }] });
/** About 1 KiB: a series of 100 values. */
const kibibyte = (seq: number): Buffer =>
  encodeBatch({ seq, series: [{ metric: 'm', startUnixMs: Date.now(), timeDeltaMs: new Array(100).fill(0), values: new Array(100).fill(seq) }] });

describe('flow control', () => {
  it('slows a device over its rate instead of dropping its data', async () => {
    gw = await startTestGateway({ set: { 'auth.mode': 'anonymous', 'limits.messagesPerSecond': '200', 'limits.burst': '5' } });
    const device = await connectDevice(gw.url, 'fast-1', undefined, { username: undefined });
    await Promise.all(Array.from({ length: 40 }, (_, i) => device.publishAsync('devices/fast-1/telemetry', reading(i + 1), { qos: 1 })));
    await device.endAsync();
    expect(await gw.metric('sluice_gateway_rate_limited_total')).toBeGreaterThanOrEqual(30);
    const seqs = (await readLoggedMessages(gw.log)).map((m) => m.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it('holds publishes past maxInflightBytes while the log is stuck, then takes them all', async () => {
    let gated: GatedLog | undefined;
    gw = await startTestGateway({
      set: { 'auth.mode': 'anonymous', 'ingest.maxInflightBytes': '4096', 'limits.messagesPerSecond': '0' },
      wrapLog: (log) => (gated = new GatedLog(log)),
    });
    gated!.hold();
    const devices = await Promise.all([0, 1, 2, 3].map((i) => connectDevice(gw!.url, `bp-${i}`, undefined, { username: undefined })));
    // 4 devices × 50 QoS 0 publishes of ~1 KiB: far more than the 4 KiB bound.
    for (let seq = 1; seq <= 50; seq++) devices.forEach((d, i) => d.publish(`devices/bp-${i}/telemetry`, kibibyte(seq), { qos: 0 }));
    await gated!.waitForWaiting(1);
    while ((await gw.metric('sluice_gateway_held_publishes')) === 0) await new Promise((resolve) => setImmediate(resolve));
    expect(gw.gateway.inflightBytes).toBeLessThanOrEqual(4096 + 1024);
    expect(await gw.metric('sluice_gateway_inflight_bytes')).toBeLessThanOrEqual(4096 + 1024);
    gated!.open();
    // A QoS 1 publish on each connection completes only after every earlier publish on it was taken.
    await Promise.all(devices.map((d, i) => d.publishAsync(`devices/bp-${i}/telemetry`, reading(51), { qos: 1 })));
    await Promise.all(devices.map((d) => d.endAsync()));
    const logged = await readLoggedMessages(gw.log);
    expect(logged).toHaveLength(4 * 51);
    expect(await gw.metric('sluice_gateway_held_publishes')).toBe(0);
  });
});
