/**
 * One mapped topic end to end, as `sluice start` runs it: mosquitto_pub → gateway (mapping)
 * → log → processors → a real InfluxDB, where the readings land in their window with the
 * tag taken from the topic.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInfluxd, type InfluxRow, type TestInfluxd } from './harness/influxdb.js';
import { startTestNode, testNodeConfig } from './harness/sluice-node.js';
import { tempDir } from './harness/temp-dir.js';

process.env.SLUICE_LOG_LEVEL ??= 'error';
const run = promisify(execFile);
const cleanups: (() => Promise<void>)[] = [];
let influx: TestInfluxd;
beforeAll(async () => {
  influx = await startInfluxd();
});
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await influx?.destroy();
});

/** InfluxDB has no event for "the point was written": poll, bounded. */
async function waitForRows(q: string, expected: number): Promise<InfluxRow[]> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const rows = await influx.query(q).catch(() => []);
    if (rows.length >= expected) return rows;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${expected} rows of: ${q}`);
}

describe('ingest.mappings → InfluxDB', () => {
  it('aggregates mapped readings into their window, tagged from the topic', async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const db = `mapped_${Date.now()}`;
    const mappings = [{ name: 'factory', topic: 'factory/+site/+device/telemetry', timestamp: { field: 'ts', format: 'unix_ms' }, tags: { fromTopic: ['site'] } }];
    const config = await testNodeConfig(dir.path, influx.url, {
      'influx.database': db,
      'ingest.mappings': JSON.stringify(mappings),
      'time.idleTimeout': '200ms',
      'time.maxOutOfOrderness': '1s',
      'checkpoint.interval': '500ms',
    });
    const node = await startTestNode(config);
    cleanups.push(() => node.stop());

    const window = Math.floor((Date.now() - 5 * 60_000) / 10_000) * 10_000;
    const samples = [
      { ts: window + 1000, temperature: 20, env: { hum: 40 } },
      { ts: window + 4000, temperature: 23, env: { hum: 44 } },
    ];
    for (const doc of samples) {
      await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(node.ports.mqtt), '-i', 'press-e2e', '-q', '1', '-t', 'factory/oslo/press-e2e/telemetry', '-m', JSON.stringify(doc)], { timeout: 10_000 });
    }

    const rows = await waitForRows(`SELECT * FROM "${db}"."autogen"."telemetry_10s" WHERE "device" = 'press-e2e'`, 2);
    const byMetric = Object.fromEntries(rows.map((r) => [r.metric as string, r]));
    expect(Object.keys(byMetric).sort()).toEqual(['env.hum', 'temperature']);
    expect(byMetric.temperature).toMatchObject({ time: window, site: 'oslo', count: 2, sum: 43, min: 20, max: 23, first: 20, last: 23 });
    expect(byMetric['env.hum']).toMatchObject({ time: window, site: 'oslo', count: 2, sum: 84 });
  });

  it('with a sequence field, a re-sent payload is counted once', async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const db = `mapped_seq_${Date.now()}`;
    const mappings = [{ name: 'meters', topic: 'meters/+device/state', timestamp: { field: 'ts' }, sequence: 'n' }];
    const config = await testNodeConfig(dir.path, influx.url, { 'influx.database': db, 'ingest.mappings': JSON.stringify(mappings), 'time.idleTimeout': '200ms', 'checkpoint.interval': '500ms' });
    const node = await startTestNode(config);
    cleanups.push(() => node.stop());

    const window = Math.floor((Date.now() - 5 * 60_000) / 10_000) * 10_000;
    const first = { n: 1, ts: window + 1000, kwh: 1 };
    const second = { n: 2, ts: window + 2000, kwh: 2 };
    // The re-send of the second comes before the third, so once the third is in the window
    // the re-send has been judged: counted, the count is 4; dropped, 3.
    const lines = [first, second, second, { n: 3, ts: window + 3000, kwh: 4 }].map((doc) => JSON.stringify(doc)).join('\n');
    await new Promise<void>((resolve, reject) => {
      const pub = execFile('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(node.ports.mqtt), '-i', 'meter-7', '-q', '1', '-t', 'meters/meter-7/state', '-l'], { timeout: 10_000 }, (err) => (err ? reject(err) : resolve()));
      pub.stdin!.end(`${lines}\n`);
    });

    const q = `SELECT * FROM "${db}"."autogen"."telemetry_10s" WHERE "device" = 'meter-7' AND "last" = 4`;
    const [row] = await waitForRows(q, 1);
    expect(row).toMatchObject({ time: window, metric: 'kwh', count: 3, sum: 7 });
  });
});
