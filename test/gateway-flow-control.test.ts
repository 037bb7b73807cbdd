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
    // held, then released in the order they arrived
    expect((await readLoggedMessages(gw.log)).map((m) => m.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it('limits the device, not the connection: reconnecting does not refill its allowance', async () => {
    gw = await startTestGateway({ set: { 'auth.mode': 'anonymous', 'limits.messagesPerSecond': '50', 'limits.burst': '5' } });
    const started = performance.now();
    for (let c = 0; c < 5; c++) {
      const device = await connectDevice(gw.url, 'hopper-1', undefined, { username: undefined });
      await Promise.all(Array.from({ length: 10 }, (_, i) => device.publishAsync('devices/hopper-1/telemetry', reading(c * 10 + i + 1), { qos: 1 })));
      await device.endAsync();
    }
    // 50 messages at 50/s after a burst of 5 take at least 900 ms, however often it reconnects
    // (with a bucket per connection, each connection had a fresh burst: ~550 ms).
    expect(performance.now() - started).toBeGreaterThanOrEqual(850);
    expect((await readLoggedMessages(gw.log)).map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('holds the CONNACK of a device reconnecting over limits.connectsPerMinute, not other devices, and refuses one with too many waiting', async () => {
    // One CONNECT every 10 s after a burst of 2: the 3rd is held for 10 s, a 4th would wait 20 s.
    gw = await startTestGateway({ set: { 'auth.mode': 'anonymous', 'limits.connectsPerMinute': '6', 'limits.connectBurst': '2' } });
    for (let c = 0; c < 2; c++) await (await connectDevice(gw.url, 'looper-1', undefined, { username: undefined })).endAsync();
    const held = connectDevice(gw.url, 'looper-1', undefined, { username: undefined, connectTimeout: 30_000 });
    let heldConnected = false;
    void held.then(() => (heldConnected = true), () => undefined);
    await expect.poll(() => gw!.metric('sluice_gateway_connects_held_total')).toBe(1);
    // Another device is answered at once while looper-1 waits for its turn.
    const other = await connectDevice(gw.url, 'steady-1', undefined, { username: undefined });
    await other.publishAsync('devices/steady-1/telemetry', reading(1), { qos: 1 });
    expect(heldConnected).toBe(false);
    await expect(connectDevice(gw.url, 'looper-1', undefined, { username: undefined, clientId: 'looper-1' })).rejects.toThrow(/Server unavailable/i);
    expect(await gw.metric('sluice_gateway_connections_refused_total', { reason: 'connect_rate' })).toBe(1);
    await other.endAsync();
    // Shutting down answers the held CONNECT (CONNACK 3) instead of waiting out its turn.
    await gw.destroy();
    gw = undefined;
    await expect(held).rejects.toThrow(/Server unavailable/i);
    expect(heldConnected).toBe(false);
  });

  it('limits readings, not only messages: a device sending large Series waits out its debt', async () => {
    gw = await startTestGateway({ set: { 'auth.mode': 'anonymous', 'limits.messagesPerSecond': '0', 'limits.readingsPerSecond': '10000', 'limits.readingsBurst': '1000' } });
    const device = await connectDevice(gw.url, 'bulk-1', undefined, { username: undefined });
    const big = (seq: number): Buffer => encodeBatch({ seq, series: [{ metric: 'm', startUnixMs: Date.now(), timeDeltaMs: new Array(2000).fill(0), values: new Array(2000).fill(seq) }] });
    const started = performance.now();
    for (let i = 1; i <= 5; i++) await device.publishAsync('devices/bulk-1/telemetry', big(i), { qos: 1 });
    // 10,000 readings at 10,000/s after a burst of 1,000: the fifth message waits for a 7,000-reading debt.
    expect(performance.now() - started).toBeGreaterThanOrEqual(650);
    await device.endAsync();
    expect(await gw.metric('sluice_gateway_readings_total')).toBe(10_000);
    // Four wait on a quiet machine; on a loaded one the debt may have run out between two.
    const limited = await gw.metric('sluice_gateway_rate_limited_total');
    expect(limited).toBeGreaterThanOrEqual(1);
    expect(limited).toBeLessThanOrEqual(4);
  });

  it('holds publishes past maxInflightBytes while the log is stuck, then takes them all', async () => {
    let gated: GatedLog | undefined;
    gw = await startTestGateway({
      set: { 'auth.mode': 'anonymous', 'ingest.maxInflightBytes': '4096', 'limits.messagesPerSecond': '0', 'limits.bytesPerSecond': '0' },
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

  it('stops reading connections while publishes are held, so their backlog waits in the socket, then reads them in turn', async () => {
    let gated: GatedLog | undefined;
    gw = await startTestGateway({
      set: { 'auth.mode': 'anonymous', 'ingest.maxInflightBytes': '4096', 'limits.messagesPerSecond': '0', 'limits.bytesPerSecond': '0' },
      wrapLog: (log) => (gated = new GatedLog(log)),
    });
    gated!.hold();
    const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    // Connected while the pipeline has room: a CONNECT is always read.
    const late = await connectDevice(gw.url, 'rg-late', undefined, { username: undefined });
    const filler = await connectDevice(gw.url, 'rg-fill', undefined, { username: undefined });
    for (let seq = 1; seq <= 20; seq++) filler.publish('devices/rg-fill/telemetry', kibibyte(seq), { qos: 0 });
    await gated!.waitForWaiting(1);
    while ((await gw.metric('sluice_gateway_held_publishes')) === 0) await tick();
    const held = await gw.metric('sluice_gateway_held_publishes');
    const acked = Array.from({ length: 3 }, (_, i) => late.publishAsync('devices/rg-late/telemetry', kibibyte(i + 1), { qos: 1 }));
    // Its read is refused: its publishes are neither parsed nor held (before the gate, they joined the held ones).
    while ((await gw.metric('sluice_gateway_paused_connections')) < 1) await tick();
    expect(await gw.metric('sluice_gateway_held_publishes')).toBe(held);
    gated!.open();
    await Promise.all(acked);
    await filler.publishAsync('devices/rg-fill/telemetry', kibibyte(21), { qos: 1 });
    await Promise.all([late.endAsync(), filler.endAsync()]);
    const logged = await readLoggedMessages(gw.log);
    expect(logged.filter((m) => m.device === 'rg-late').map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(logged.filter((m) => m.device === 'rg-fill').map((m) => m.seq)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    expect(await gw.metric('sluice_gateway_paused_connections')).toBe(0);
    expect(await gw.metric('sluice_gateway_held_publishes')).toBe(0);
  });
});
