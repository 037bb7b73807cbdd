/**
 * Sparkplug B end to end, as `sluice start` runs it in its own process: two edge nodes
 * (real mqtt.js clients, token auth, Sparkplug's QoS 0 data and QoS 1 will) publish births
 * and aliased data; one loses messages (a seq gap), is asked for a rebirth on its NCMD
 * topic and answers with new births, then a device of it dies (DDEATH) and the node dies
 * (its MQTT will, the NDEATH). In a real InfluxDB the readings are in their windows exactly
 * (counts and sums computed from what was sent), and `device_status` holds every birth and
 * death, the last one per device saying who is online. Then sluice is killed (SIGKILL),
 * both measurements are dropped, and a restart replays the log: the same points come back,
 * statuses included, at the same times: they travel through the log, not beside it.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SparkplugDataType as T, SparkplugPayload, type SparkplugPayloadProps } from '../proto/index.js';
import { connectDevice, deviceToken } from './harness/devices.js';
import { freePort, startInfluxd, type InfluxRow, type TestInfluxd } from './harness/influxdb.js';
import { watchNode } from './harness/pipeline-node.js';
import { spawnSluice, type SluiceProcess } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

const FLEET_KEY = 'sparkplug-influx-fleet-key-0123456789';
const DB = 'sparkplug';
const WINDOW_MS = 2000;
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const encode = (p: SparkplugPayloadProps): Buffer => Buffer.from(SparkplugPayload.encode(p).finish());

/** A reading sent, as the windows should count it. */
interface Sent {
  device: string;
  metric: string;
  time: number;
  value: number;
}

/** An edge node: connected with its NDEATH as will, subscribed to its NCMD topic; `publish` records the readings each message carries. */
async function edgeNode(url: string, group: string, edge: string, sent: Sent[]) {
  const will = { topic: `spBv1.0/${group}/NDEATH/${edge}`, payload: encode({ metrics: [{ name: 'bdSeq', datatype: T.Int64, longValue: 0 }] }), qos: 1 as const, retain: false };
  const client: MqttClient = await connectDevice(url, edge, deviceToken(FLEET_KEY, edge), { will });
  const ncmd: SparkplugPayloadProps[] = [];
  let ncmdWaiter: (() => void) | undefined;
  client.on('message', (topic, payload) => {
    if (topic !== `spBv1.0/${group}/NCMD/${edge}`) return;
    ncmd.push(SparkplugPayload.decode(payload));
    ncmdWaiter?.();
  });
  await client.subscribeAsync(`spBv1.0/${group}/NCMD/${edge}`, { qos: 0 });
  return {
    client,
    ncmd,
    /** Resolves when the n-th NCMD has arrived. */
    ncmdCount: (n: number) => new Promise<void>((resolve) => (ncmdWaiter = () => ncmd.length >= n && resolve())).then(() => undefined),
    /** Publishes at QoS 0, as Sparkplug does; `readings` are what it carries: [sluice device, metric, time, value]. */
    publish: async (type: string, device: string | undefined, p: SparkplugPayloadProps, readings: [string, string, number, number][] = []) => {
      await client.publishAsync(`spBv1.0/${group}/${type}/${edge}${device === undefined ? '' : `/${device}`}`, encode(p), { qos: 0 });
      for (const [d, metric, time, value] of readings) sent.push({ device: d, metric, time, value });
    },
  };
}

/** Expected window points, `device|metric|start` → count and sum. */
function expectedWindows(sent: Sent[]): Map<string, { count: number; sum: number }> {
  const out = new Map<string, { count: number; sum: number }>();
  for (const r of sent) {
    const key = `${r.device}|${r.metric}|${Math.floor(r.time / WINDOW_MS) * WINDOW_MS}`;
    const w = out.get(key) ?? { count: 0, sum: 0 };
    w.count++;
    w.sum += r.value;
    out.set(key, w);
  }
  return out;
}

function windowsOf(rows: InfluxRow[]): Map<string, { count: number; sum: number }> {
  return new Map(rows.map((r) => [`${r.device as string}|${r.metric as string}|${r.time as number}`, { count: r.count as number, sum: r.sum as number }]));
}

/** device_status, oldest first: `device event online time kind`. */
function statusOf(rows: InfluxRow[]): string[] {
  return rows.map((r) => `${r.device as string} ${r.event as string} ${r.online as number} ${r.time as number} ${r.kind as string}`);
}

/** InfluxDB has no event for "the point was written": poll until `check` passes, bounded. */
async function eventually<T>(what: string, probe: () => Promise<T>, check: (value: T) => void, timeoutMs = 40_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    try {
      check(value);
      return value;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('Sparkplug B → sluice start → InfluxDB', () => {
  let influx: TestInfluxd;

  it('writes births, aliased data and rebirths into their windows exactly, births and deaths to device_status, and replays both alike after a kill', { timeout: 150_000 }, async () => {
    influx = await startInfluxd();
    cleanups.push(() => influx.destroy());
    const dir = await tempDir('sluice-sparkplug-');
    cleanups.push(dir.remove);
    const configFile = join(dir.path, 'sluice.yaml');
    const mqttPort = await freePort();
    await writeFile(
      configFile,
      stringify({
        dataDir: join(dir.path, 'data'),
        mqtt: { host: '127.0.0.1', port: mqttPort },
        http: { host: '127.0.0.1', port: await freePort() },
        auth: { mode: 'token', fleetKey: FLEET_KEY },
        ingest: { sparkplug: true },
        decode: { threads: 1 },
        influx: { url: influx.url, database: DB, flushInterval: '200ms' },
        time: { maxOutOfOrderness: '1s', idleTimeout: '1s' },
        // No checkpoint while the test runs: the restart below replays the whole log.
        checkpoint: { interval: '1h' },
        windows: [{ name: 'sp_2s', type: 'tumbling', size: WINDOW_MS }],
      }),
    );
    let node: SluiceProcess = spawnSluice(['start', '--config', configFile]);
    watchNode(() => node, cleanups);
    await node.ready;
    const url = `mqtt://127.0.0.1:${mqttPort}`;

    const sent: Sent[] = [];
    const W = Math.floor((Date.now() - 5 * 60_000) / 10_000) * 10_000; // five minutes back, window aligned
    const A = 'plant:edgeA';
    const pump = `${A}:pump`;
    const valve = `${A}:valve`;
    const a = await edgeNode(url, 'plant', 'edgeA', sent);
    cleanups.push(async () => a.client.connected && (await a.client.endAsync(true)));
    const nbirth = (seq: number, t: number, uptime: number) =>
      a.publish('NBIRTH', undefined, {
        timestamp: t,
        seq,
        metrics: [
          { name: 'bdSeq', datatype: T.Int64, longValue: 0 },
          { name: 'Node Control/Rebirth', datatype: T.Boolean, booleanValue: false },
          { name: 'Uptime', alias: 1, datatype: T.UInt64, longValue: uptime },
        ],
      }, [[A, 'Uptime', t, uptime]]);
    const dbirthPump = (seq: number, t: number, flow: number) =>
      a.publish('DBIRTH', 'pump', { timestamp: t, seq, metrics: [{ name: 'Flow Rate', alias: 10, datatype: T.Float, floatValue: flow }] }, [[pump, 'Flow_Rate', t, flow]]);
    const dbirthValve = (seq: number, t: number, position: number) =>
      a.publish('DBIRTH', 'valve', { timestamp: t, seq, metrics: [{ name: 'Position', alias: 20, datatype: T.Int32, intValue: position }] }, [[valve, 'Position', t, position]]);

    await nbirth(0, W + 100, 100);
    await dbirthPump(1, W + 200, 1.5);
    await dbirthValve(2, W + 300, 10);
    await a.publish('DDATA', 'pump', { timestamp: W + 1000, seq: 3, metrics: [{ alias: 10, floatValue: 2.5 }] }, [[pump, 'Flow_Rate', W + 1000, 2.5]]);
    await a.publish('DDATA', 'valve', { timestamp: W + 1100, seq: 4, metrics: [{ alias: 20, intValue: 20 }] }, [[valve, 'Position', W + 1100, 20]]);
    await a.publish('NDATA', undefined, { timestamp: W + 1200, seq: 5, metrics: [{ alias: 1, longValue: 160, timestamp: W + 1250 }] }, [[A, 'Uptime', W + 1250, 160]]);
    // Seqs 6–8 lost: the data is still taken, and the gateway asks for a rebirth.
    const rebirthAsked = a.ncmdCount(1);
    await a.publish('DDATA', 'pump', { timestamp: W + 2000, seq: 9, metrics: [{ alias: 10, floatValue: 3 }] }, [[pump, 'Flow_Rate', W + 2000, 3]]);
    await rebirthAsked;
    expect(a.ncmd[0]!.metrics![0]).toMatchObject({ name: 'Node Control/Rebirth', booleanValue: true });
    await nbirth(0, W + 3000, 170);
    await dbirthPump(1, W + 3100, 4);
    await dbirthValve(2, W + 3200, 30);
    await a.publish('DDATA', 'pump', { timestamp: W + 4000, seq: 3, metrics: [{ alias: 10, floatValue: 5 }] }, [[pump, 'Flow_Rate', W + 4000, 5]]);
    await a.publish('DDATA', 'valve', { timestamp: W + 4100, seq: 4, metrics: [{ alias: 20, intValue: 40 }] }, [[valve, 'Position', W + 4100, 40]]);
    await a.publish('DDEATH', 'valve', { timestamp: W + 5000, seq: 5 });
    // An NDEATH of another session (bdSeq 7): stale, it changes nothing.
    await a.publish('NDEATH', undefined, { metrics: [{ name: 'bdSeq', datatype: T.Int64, longValue: 7 }] });

    // A second edge node stays online with its device.
    const B = 'plant:edgeB';
    const b = await edgeNode(url, 'plant', 'edgeB', sent);
    cleanups.push(async () => b.client.connected && (await b.client.endAsync(true)));
    await b.publish('NBIRTH', undefined, { timestamp: W + 100, seq: 0, metrics: [{ name: 'bdSeq', datatype: T.Int64, longValue: 0 }, { name: 'Level', alias: 1, datatype: T.Double, doubleValue: 0.5 }] }, [[B, 'Level', W + 100, 0.5]]);
    await b.publish('DBIRTH', 'tank', { timestamp: W + 200, seq: 1, metrics: [{ name: 'Volume', alias: 5, datatype: T.Double, doubleValue: 100 }] }, [[`${B}:tank`, 'Volume', W + 200, 100]]);
    await b.publish('DDATA', 'tank', { timestamp: W + 1500, seq: 2, metrics: [{ alias: 5, doubleValue: 110 }] }, [[`${B}:tank`, 'Volume', W + 1500, 110]]);
    expect(b.ncmd).toEqual([]);

    // edgeA's connection drops without a DISCONNECT: the gateway publishes its will, the NDEATH.
    const beforeDeath = Date.now();
    a.client.stream.destroy();
    const expected = expectedWindows(sent);
    expect(expected.size).toBe(10); // Uptime 2 windows, Flow_Rate 3, Position 3, Level 1, Volume 1

    const windowQuery = `SELECT * FROM "sp_2s" WHERE "device" =~ /^plant:/`;
    const statusQuery = 'SELECT * FROM "device_status"';
    const windows = await eventually('window points', () => influx.query(windowQuery, DB).catch(() => []), (rows) => expect(windowsOf(rows)).toEqual(expected));
    const status = await eventually('device_status', () => influx.query(statusQuery, DB).catch(() => []), (rows) => expect(rows).toHaveLength(11));
    const afterDeath = Date.now();
    // Births and the DDEATH at their payload's time; the NDEATH (node and the device it still had online) at the receive time.
    const deathAt = status.find((r) => r.event === 'NDEATH')!.time as number;
    expect(deathAt).toBeGreaterThanOrEqual(beforeDeath);
    expect(deathAt).toBeLessThanOrEqual(afterDeath);
    const history = statusOf(status);
    expect([...history].sort()).toEqual([
      `${A} NBIRTH 1 ${W + 100} node`,
      `${A} NBIRTH 1 ${W + 3000} node`,
      `${A} NDEATH 0 ${deathAt} node`,
      `${pump} DBIRTH 1 ${W + 200} device`,
      `${pump} DBIRTH 1 ${W + 3100} device`,
      `${pump} NDEATH 0 ${deathAt} device`,
      `${valve} DBIRTH 1 ${W + 300} device`,
      `${valve} DBIRTH 1 ${W + 3200} device`,
      `${valve} DDEATH 0 ${W + 5000} device`,
      `${B} NBIRTH 1 ${W + 100} node`,
      `${B}:tank DBIRTH 1 ${W + 200} device`,
    ].sort());
    expect(status.every((r) => r.group === 'plant' && r.edge === (String(r.device).startsWith(B) ? 'edgeB' : 'edgeA'))).toBe(true);

    // The last status per device, as the fleet dashboard asks for it.
    const last = await influx.query('SELECT last("online") AS "online", "event" FROM "device_status" GROUP BY "device"', DB);
    expect(Object.fromEntries(last.map((r) => [r.device, `${r.online as number} ${r.event as string}`]))).toEqual({
      [A]: '0 NDEATH',
      [pump]: '0 NDEATH',
      [valve]: '0 DDEATH',
      [B]: '1 NBIRTH',
      [`${B}:tank`]: '1 DBIRTH',
    });

    // Kill sluice, drop both measurements, start again: replaying the log (no checkpoint was
    // taken) rewrites exactly the same points, statuses at the same times included.
    node.child.kill('SIGKILL');
    await node.exited;
    await influx.query('DROP MEASUREMENT "sp_2s"', DB);
    await influx.query('DROP MEASUREMENT "device_status"', DB);
    expect(await influx.query(statusQuery, DB)).toEqual([]);
    node = spawnSluice(['start', '--config', configFile]);
    await node.ready;
    await eventually('window points after the replay', () => influx.query(windowQuery, DB).catch(() => []), (rows) => expect(windowsOf(rows)).toEqual(windowsOf(windows)));
    await eventually('device_status after the replay', () => influx.query(statusQuery, DB).catch(() => []), (rows) => expect(statusOf(rows).sort()).toEqual([...history].sort()));
  });
});
