/** Issue 10, defects 1 and 2: what InfluxDB cannot store is refused before PUBACK; what is accepted is stored exactly. */
import { afterEach, expect, it } from 'vitest';
import { connectDevice, encodeBatch } from './harness/devices.js';
import { startInfluxd } from './harness/influxdb.js';
import { nodeArgs, scrapeMetric, waitForPoints, watchNode, WINDOW_MS } from './harness/pipeline-node.js';
import { spawnSluice } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

it('refuses unstorable tags before PUBACK, writes overflowing windows without the overflowed fields, and stores every accepted tag exactly', { timeout: 90_000 }, async () => {
  const influx = await startInfluxd();
  cleanups.push(() => influx.destroy());
  const dir = await tempDir();
  cleanups.push(dir.remove);
  const db = 'unstorable';
  const node = spawnSluice(await nodeArgs(dir.path, influx, db));
  watchNode(() => node, cleanups);
  const { mqtt, http } = await node.ready;
  const dev = await connectDevice(`mqtt://127.0.0.1:${mqtt}`, 'odd-dev', undefined, { username: undefined });
  cleanups.push(() => dev.endAsync(true));
  const topic = 'devices/odd-dev/telemetry';
  const t0 = Math.floor((Date.now() - 10 * 60_000) / WINDOW_MS) * WINDOW_MS;
  const reading = (metric: string, time: number, value: number, tags?: Record<string, string>) => ({ metric, timeUnixMs: time, doubleValue: value, tags });

  // Refused whole, with reason tag_invalid: InfluxDB cannot store these tags as sent.
  for (const tags of [{ time: 'x' }, { a: 'x\\' }, { a: 'line\nbreak' }, { count: '1' }] as Record<string, string>[]) {
    await dev.publishAsync(topic, encodeBatch({ seq: 0, readings: [reading('refused', t0, 1, tags)] }), { qos: 1 });
  }
  // Accepted: overflowing aggregates, and tags that must come back exactly as sent.
  const exactTags: Record<string, string>[] = [{ a: 'a\\b' }, { a: 'a,b', 'k=1': 'v w' }];
  await dev.publishAsync(topic, encodeBatch({ seq: 0, readings: [reading('huge', t0, 1.7e308), reading('huge', t0 + 1, 1.7e308), reading('wide', t0, 1e200), reading('wide', t0 + 1, -1e200)] }), { qos: 1 });
  await dev.publishAsync(topic, encodeBatch({ seq: 0, readings: exactTags.map((tags, i) => reading('tagged', t0 + i, i, tags)) }), { qos: 1 });
  // A later reading closes the first window for good.
  await dev.publishAsync(topic, encodeBatch({ seq: 0, readings: [reading('later', t0 + 3 * WINDOW_MS, 1)] }), { qos: 1 });

  const rows = await waitForPoints(influx, db, 2 + exactTags.length);
  const huge = rows.find((r) => r.metric === 'huge');
  expect(huge).toMatchObject({ count: 2, min: 1.7e308, max: 1.7e308, mean: 1.7e308, sum: null });
  const wide = rows.find((r) => r.metric === 'wide');
  expect(wide).toMatchObject({ count: 2, sum: 0, mean: 0, min: -1e200, max: 1e200, stddev: null });
  const tagged = await influx.query(`SELECT "count", "a", "b", "k=1" FROM level_5s WHERE metric = 'tagged'`, db);
  expect(tagged.map((r) => ({ a: r.a, b: r.b, k: r['k=1'] })).sort((x, y) => String(x.a).localeCompare(String(y.a)))).toEqual([
    { a: 'a,b', b: null, k: 'v w' },
    { a: 'a\\b', b: null, k: null },
  ]);
  expect(rows.some((r) => r.metric === 'refused')).toBe(false);
  expect(await scrapeMetric(http, 'sluice_processor_bad_points_total')).toBe(0);
  const metrics = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
  expect(metrics).toMatch(/^sluice_gateway_rejected_total\{reason="tag_invalid"\} 4$/m);
});
