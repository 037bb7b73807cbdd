/**
 * Int readings exactly, end to end (issue 17, item 3): a real mqtt.js device publishes
 * int_value readings past 2^53 (protobuf, and intValue decimal strings on the JSON topic)
 * to `sluice start` with `outputs.raw: true`, and a real influxd 1.6 holds them exactly in
 * the integer field `value_int`, beside the float `value` that keeps its type.
 * InfluxDB's JSON response would itself round them in JSON.parse, so the values are read
 * from a CSV response, as text.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { wireInt64 } from '../proto/testing/wire-int64.js';
import { connectDevice, encodeBatch, publishReliably } from './harness/devices.js';
import { settledSelect, startInfluxd, type TestInfluxd } from './harness/influxdb.js';
import { nodeArgs, until, watchNode } from './harness/pipeline-node.js';
import { spawnSluice } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

let influx: TestInfluxd;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  influx = await startInfluxd();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await influx?.destroy();
});

/** An InfluxQL query's rows as CSV text (`name,tags,time,<columns>`), every value as InfluxDB wrote it. */
function queryCsv(db: string, influxql: string): Promise<string[][]> {
  return settledSelect(() => queryCsvOnce(db, influxql));
}

async function queryCsvOnce(db: string, influxql: string): Promise<string[][]> {
  const res = await fetch(`${influx.url}/query`, {
    method: 'POST',
    body: new URLSearchParams({ q: influxql, db, epoch: 'ms' }),
    headers: { accept: 'application/csv' },
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`InfluxQL ${influxql} failed (${res.status}): ${text}`);
  return text.split('\n').filter((line) => line !== '').map((line) => line.split(','));
}

describe('sluice start → InfluxDB: int readings exactly', () => {
  it('writes int_value past 2^53 exactly as the integer field value_int, and value stays a float', { timeout: 120_000 }, async () => {
    const db = `ints_${randomUUID().replace(/-/g, '')}`;
    const dir = await tempDir();
    cleanups.push(() => dir.remove());
    const node = spawnSluice([...(await nodeArgs(join(dir.path, 'data'), influx, db)), '--set', 'outputs.raw=true', '--set', 'stats.enabled=false']);
    watchNode(() => node, cleanups);
    const { mqtt } = await node.ready;
    const device = `${db}-dev`;
    const client = await connectDevice(`mqtt://127.0.0.1:${mqtt}`, device, undefined, { username: undefined });
    cleanups.push(() => client.endAsync());

    const t0 = Date.now() - 60_000;
    const protobuf = encodeBatch({
      seq: 1,
      readings: [
        { metric: 'big', timeUnixMs: t0, intValue: wireInt64(9007199254740993n) },
        { metric: 'big', timeUnixMs: t0 + 1, intValue: wireInt64(-9007199254740993n) },
        { metric: 'big', timeUnixMs: t0 + 2, intValue: wireInt64(-(2n ** 63n)) },
        { metric: 'big', timeUnixMs: t0 + 3, intValue: wireInt64(2n ** 63n - 1n) },
        { metric: 'big', timeUnixMs: t0 + 4, intValue: 42 },
        { metric: 'temp', timeUnixMs: t0, doubleValue: 21.5 },
      ],
    });
    await publishReliably(client, `devices/${device}/telemetry`, protobuf, 'protobuf ints');
    const json = JSON.stringify({
      seq: 2,
      readings: [
        { metric: 'json', timeUnixMs: String(t0), intValue: '9007199254740995' },
        { metric: 'json', timeUnixMs: String(t0 + 1), intValue: '-9007199254740995' },
      ],
    });
    await publishReliably(client, `devices/${device}/telemetry/json`, Buffer.from(json), 'JSON ints');

    const select = (metric: string): Promise<string[][]> =>
      queryCsv(db, `SELECT "value", "value_int" FROM "readings" WHERE "device" = '${device}' AND "metric" = '${metric}' ORDER BY time`).catch(() => []);
    await until('every raw reading in InfluxDB', async () => (await select('big')).length === 6 && (await select('json')).length === 3 && (await select('temp')).length === 2);

    const [header, ...big] = await select('big');
    expect(header).toEqual(['name', 'tags', 'time', 'value', 'value_int']);
    expect(big.map(([, , time, , valueInt]) => [Number(time) - t0, valueInt])).toEqual([
      [0, '9007199254740993'],
      [1, '-9007199254740993'],
      [2, '-9223372036854775808'],
      [3, '9223372036854775807'],
      [4, '42'],
    ]);
    // value is the float it always was: the nearest double, as panels and queries of value read it.
    expect(big.map(([, , , value]) => Number(value))).toEqual([2 ** 53, -(2 ** 53), -(2 ** 63), 2 ** 63, 42]);
    expect((await select('json')).slice(1).map((row) => row[4])).toEqual(['9007199254740995', '-9007199254740995']);
    // A double reading has no value_int.
    expect((await select('temp')).slice(1).map((row) => row.slice(3))).toEqual([['21.5', '']]);

    const fields = await influx.query('SHOW FIELD KEYS FROM "readings"', db);
    expect(fields.map((f) => [f.fieldKey, f.fieldType])).toEqual([['value', 'float'], ['value_int', 'integer']]);
  });
});
