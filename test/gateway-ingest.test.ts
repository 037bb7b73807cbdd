import { afterEach, describe, expect, it } from 'vitest';
import { readDeadLetters } from '../gateway/index.js';
import { closed, connectDevice, encodeBatch } from './harness/devices.js';
import { GatedLog } from './harness/gated-log.js';
import { startTestGateway, type TestGateway } from './harness/gateway-node.js';
import { readLoggedMessages } from './harness/log-contents.js';
import { RawMqtt, rawPublish } from './harness/raw-mqtt.js';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.destroy();
  gw = undefined;
});

const anonymous = { 'auth.mode': 'anonymous' };
const now = (): number => Date.now();
const good = (seq: number): Buffer => encodeBatch({ seq, readings: [{ metric: 'ok', timeUnixMs: now(), doubleValue: seq }] });

// Bytes that protobufjs rejects with a TypeError: field 2 (readings) whose metric is invalid UTF-8.
const invalidUtf8Metric = Buffer.from([0x12, 0x05, 0x0a, 0x03, 0xff, 0xfe, 0xfd]);

const malformed: [string, string, Buffer | string][] = [
  ['garbage bytes', 'decode_error', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])],
  ['invalid UTF-8 metric name', 'decode_error', invalidUtf8Metric],
  ['NaN value', 'non_finite_value', encodeBatch({ seq: 1, readings: [{ metric: 'm', timeUnixMs: now(), doubleValue: NaN }] })],
  ['Infinity in a series', 'non_finite_value', encodeBatch({ seq: 1, series: [{ metric: 'm', startUnixMs: now(), timeDeltaMs: [0, 1], values: [1, Infinity] }] })],
  ['timestamp a year ago', 'timestamp_skew', encodeBatch({ seq: 1, readings: [{ metric: 'm', timeUnixMs: now() - 365 * 86_400_000, doubleValue: 1 }] })],
  ['timestamp a minute ahead', 'timestamp_future', encodeBatch({ seq: 1, readings: [{ metric: 'm', timeUnixMs: now() + 60_000, doubleValue: 1 }] })],
  ['metric name with a space', 'metric_name_invalid', encodeBatch({ seq: 1, readings: [{ metric: 'bad name', timeUnixMs: now(), doubleValue: 1 }] })],
  ['metric name too long', 'metric_name_too_long', encodeBatch({ seq: 1, readings: [{ metric: 'x'.repeat(300), timeUnixMs: now(), doubleValue: 1 }] })],
  ['too many readings', 'too_many_readings', encodeBatch({ seq: 1, series: [{ metric: 'm', startUnixMs: now(), timeDeltaMs: new Array(20).fill(0), values: new Array(20).fill(1) }] })],
  ['series length mismatch', 'series_length_mismatch', encodeBatch({ seq: 1, series: [{ metric: 'm', startUnixMs: now(), timeDeltaMs: [0, 1, 2], values: [1, 2] }] })],
  ['JSON that is not JSON', 'json_invalid', '{"seq": 1, "readings": ['],
];

describe('malformed payloads', () => {
  it.each(malformed)('%s: counted as %s, dead-lettered, connection and other devices unaffected', async (_name, reason, payload) => {
    gw = await startTestGateway({ set: { ...anonymous, 'decode.maxReadingsPerMessage': '10' } });
    const bad = await connectDevice(gw.url, 'bad-dev', undefined, { username: undefined });
    const other = await connectDevice(gw.url, 'other-dev', undefined, { username: undefined });
    const topic = typeof payload === 'string' ? 'devices/bad-dev/telemetry/json' : 'devices/bad-dev/telemetry';
    await bad.publishAsync(topic, payload, { qos: 1 });
    await Promise.all([bad.publishAsync('devices/bad-dev/telemetry', good(2), { qos: 1 }), other.publishAsync('devices/other-dev/telemetry', good(3), { qos: 1 })]);
    expect(bad.connected).toBe(true);
    await Promise.all([bad.endAsync(), other.endAsync()]);

    expect(await gw.metric('sluice_gateway_rejected_total', { reason })).toBe(1);
    expect(await gw.metric('sluice_gateway_rejected_total')).toBe(1);
    const logged = await readLoggedMessages(gw.log);
    expect(logged.map((m) => [m.device, m.seq]).sort()).toEqual([['bad-dev', 2], ['other-dev', 3]]);
    await gw.stop(); // flushes the dead-letter file
    const letters = await readDeadLetters(gw.dataDir);
    expect(letters).toHaveLength(1);
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
    expect(letters[0]).toMatchObject({ device: 'bad-dev', reason, size: bytes.length, head: bytes.subarray(0, 64).toString('hex') });
  });

  it('drops a device over its distinct-metric limit (cardinality guard) and keeps its known metrics flowing', async () => {
    gw = await startTestGateway({ set: { ...anonymous, 'decode.maxMetricsPerDevice': '2' } });
    const dev = await connectDevice(gw.url, 'card-1', undefined, { username: undefined });
    const reading = (seq: number, metric: string): Buffer => encodeBatch({ seq, readings: [{ metric, timeUnixMs: now(), doubleValue: 1 }] });
    await dev.publishAsync('devices/card-1/telemetry', reading(1, 'a'), { qos: 1 });
    await dev.publishAsync('devices/card-1/telemetry', reading(2, 'b'), { qos: 1 });
    await dev.publishAsync('devices/card-1/telemetry', reading(3, 'c'), { qos: 1 });
    await dev.publishAsync('devices/card-1/telemetry', reading(4, 'a'), { qos: 1 });
    await dev.endAsync();
    expect(await gw.metric('sluice_gateway_rejected_total', { reason: 'cardinality_limit' })).toBe(1);
    expect((await readLoggedMessages(gw.log)).map((m) => m.seq)).toEqual([1, 2, 4]);
  });

  it('refuses a device past its distinct-series limit (a new tag value is a new series) before the PUBACK, and keeps its known series flowing', async () => {
    gw = await startTestGateway({ set: { ...anonymous, 'decode.maxSeriesPerDevice': '5' } });
    const dev = await connectDevice(gw.url, 'card-2', undefined, { username: undefined });
    const reading = (seq: number, tags?: Record<string, string>): Buffer => encodeBatch({ seq, readings: [{ metric: 'm', timeUnixMs: now(), doubleValue: 1, tags }] });
    // One untagged series, then a new tag value per message: series 2..5 fit, 6..20 do not.
    await dev.publishAsync('devices/card-2/telemetry', reading(1), { qos: 1 });
    for (let i = 0; i < 20; i++) await dev.publishAsync('devices/card-2/telemetry', reading(i + 2, { req: `id-${i}` }), { qos: 1 });
    // A series it already has, and a Series-form message of the untagged metric: both flow.
    await dev.publishAsync('devices/card-2/telemetry', reading(30, { req: 'id-2' }), { qos: 1 });
    await dev.publishAsync('devices/card-2/telemetry', encodeBatch({ seq: 31, series: [{ metric: 'm', startUnixMs: now(), timeDeltaMs: [0, 1], values: [1, 2] }] }), { qos: 1 });
    await dev.endAsync();
    expect(await gw.metric('sluice_gateway_rejected_total', { reason: 'cardinality_limit' })).toBe(16);
    expect((await readLoggedMessages(gw.log)).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 30, 31]);
    await gw.stop();
    expect((await readDeadLetters(gw.dataDir)).at(-1)).toMatchObject({ device: 'card-2', reason: 'cardinality_limit', detail: 'more than 5 distinct series (metric × tags) for this device' });
  });
});

describe('MQTT 3.1.1 strictness', () => {
  it('closes only the connection that sends an oversize packet', async () => {
    gw = await startTestGateway({ set: { ...anonymous, 'mqtt.maxPacketBytes': '4096' } });
    const big = await connectDevice(gw.url, 'big-1', undefined, { username: undefined });
    const other = await connectDevice(gw.url, 'small-1', undefined, { username: undefined });
    const gone = closed(big);
    big.publish('devices/big-1/telemetry', Buffer.alloc(8192, 1), { qos: 1 });
    await gone;
    big.end(true);
    await other.publishAsync('devices/small-1/telemetry', good(1), { qos: 1 });
    await other.endAsync();
    expect(await gw.metric('sluice_gateway_connections_closed_total', { reason: 'packet_too_large' })).toBe(1);
    expect((await readLoggedMessages(gw.log)).map((m) => m.device)).toEqual(['small-1']);
  });

  it('refuses connections past mqtt.maxConnections with CONNACK 3 and keeps serving the others', async () => {
    gw = await startTestGateway({ set: { ...anonymous, 'mqtt.maxConnections': '2' } });
    const first = await connectDevice(gw.url, 'cap-1', undefined, { username: undefined });
    const second = await connectDevice(gw.url, 'cap-2', undefined, { username: undefined });
    await expect(connectDevice(gw.url, 'cap-3', undefined, { username: undefined })).rejects.toMatchObject({ code: 3 });
    await first.publishAsync('devices/cap-1/telemetry', good(1), { qos: 1 });
    await Promise.all([first.endAsync(), second.endAsync()]);
    expect(await gw.metric('sluice_gateway_connections_refused_total', { reason: 'max_connections' })).toBe(1);
  });

  it('refuses an empty client id without clean session with CONNACK 2 [MQTT-3.1.3-8]', async () => {
    gw = await startTestGateway({ set: anonymous });
    const raw = await RawMqtt.open(gw.port);
    // CONNECT, MQTT 3.1.1, CleanSession 0, keep-alive 30, empty client id (mqtt-packet refuses to build it).
    raw.write(Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x00, 0, 30, 0, 0]));
    expect(await raw.next('connack')).toMatchObject({ returnCode: 2 });
    await raw.closed;
  });

  it.each([
    ['invalid UTF-8', Buffer.from([0x64, 0xff, 0x2f, 0x74])],
    ['U+0000', Buffer.from('devices/a\u0000/telemetry')],
  ])('closes a connection whose PUBLISH topic has %s', async (_name, topic) => {
    gw = await startTestGateway({ set: anonymous });
    const raw = await RawMqtt.open(gw.port);
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'raw-1', keepalive: 30 });
    expect(await raw.next('connack')).toMatchObject({ returnCode: 0 });
    raw.write(rawPublish(topic, good(1), 1, 1));
    await raw.closed;
    expect(raw.packets.some((p) => p.cmd === 'puback')).toBe(false);
  });

  it('closes a connection that sends a QoS 1 PUBLISH with packet id 0 [MQTT-2.3.1-1]', async () => {
    gw = await startTestGateway({ set: anonymous });
    const raw = await RawMqtt.open(gw.port);
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'raw-2', keepalive: 30 });
    await raw.next('connack');
    raw.write(rawPublish(Buffer.from('devices/raw-2/telemetry'), good(1), 1, 0));
    await raw.closed;
    expect(await readLoggedMessages(gw.log)).toEqual([]);
  });
});

describe('durability', () => {
  it('sends no PUBACK while the log append is held back', async () => {
    let gated: GatedLog | undefined;
    gw = await startTestGateway({ set: anonymous, wrapLog: (log) => (gated = new GatedLog(log)) });
    gated!.hold();
    const dev = await connectDevice(gw.url, 'held-1', undefined, { username: undefined });
    let acked = false;
    const publish = dev.publishAsync('devices/held-1/telemetry', good(1), { qos: 1 }).then(() => (acked = true));
    await gated!.waitForWaiting(1);
    // The held publish stalls its own connection (that is the backpressure), so a round
    // trip through the broker on a second connection gives a stray PUBACK time to arrive.
    const probe = await connectDevice(gw.url, 'probe-1', undefined, { username: undefined });
    await probe.subscribeAsync('devices/probe-1/commands/#', { qos: 1 });
    await probe.endAsync();
    expect(acked).toBe(false);
    expect(await readLoggedMessages(gw.log)).toEqual([]);
    gated!.open();
    await publish;
    expect(acked).toBe(true);
    expect((await readLoggedMessages(gw.log)).map((m) => m.seq)).toEqual([1]);
    await dev.endAsync();
  });

  it('answers each QoS 1 PUBLISH once made durable with exactly one PUBACK, in the order they arrived, QoS 0 with none, on connections sharing a batch', async () => {
    let gated: GatedLog | undefined;
    gw = await startTestGateway({ set: anonymous, wrapLog: (log) => (gated = new GatedLog(log)) });
    gated!.hold();
    const open = async (id: string): Promise<RawMqtt> => {
      const raw = await RawMqtt.open(gw!.port);
      raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: id, keepalive: 30 });
      expect(await raw.next('connack')).toMatchObject({ returnCode: 0 });
      return raw;
    };
    const a = await open('acks-a');
    const b = await open('acks-b');
    // Each device's publishes in one TCP write: parsed together, they share micro-batches with the other's.
    // Every fifth of a's is QoS 0; b's packet ids wrap past 65535.
    const aIds: number[] = [];
    const aBytes = Array.from({ length: 40 }, (_, i) => {
      const qos = i % 5 === 4 ? 0 : 1;
      if (qos === 1) aIds.push(i + 1);
      return rawPublish(Buffer.from('devices/acks-a/telemetry'), good(i + 1), qos, i + 1);
    });
    const bIds = Array.from({ length: 40 }, (_, i) => ((65_520 + i) % 65_535) + 1);
    const bBytes = bIds.map((id, i) => rawPublish(Buffer.from('devices/acks-b/telemetry'), good(i + 1), 1, id));
    a.write(Buffer.concat(aBytes));
    b.write(Buffer.concat(bBytes));
    await gated!.waitForWaiting(1);
    expect(a.packets.concat(b.packets).some((p) => p.cmd === 'puback')).toBe(false);
    gated!.open();
    await Promise.all([a.nth('puback', aIds.length), b.nth('puback', bIds.length)]);
    // A second PUBACK for a publish (aedes' own, had it not stood aside) would leave before the PINGRESP.
    for (const raw of [a, b]) {
      raw.send({ cmd: 'pingreq' });
      await raw.next('pingresp');
    }
    const acked = (raw: RawMqtt): number[] => raw.packets.filter((p) => p.cmd === 'puback').map((p) => (p as { messageId: number }).messageId);
    expect(acked(a)).toEqual(aIds);
    expect(acked(b)).toEqual(bIds);
    const logged = await readLoggedMessages(gw.log);
    expect(logged.filter((m) => m.device === 'acks-a').map((m) => m.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(logged.filter((m) => m.device === 'acks-b').map((m) => m.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    a.socket.destroy();
    b.socket.destroy();
  });
});
