/** Issue 11, defect 2: a device back from an outage has its buffered readings aggregated into their own windows. */
import { afterEach, expect, it } from 'vitest';
import { keyGroupOf } from '../routing/index.js';
import { FloodDevice } from './harness/flood-device.js';
import { startInfluxd } from './harness/influxdb.js';
import { comparePoints, type ExpectedPoint } from './harness/lockstep-fleet.js';
import { nodeArgs, scrapeMetric, waitForPoints, watchNode, WINDOW_MS } from './harness/pipeline-node.js';
import { spawnSluice } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

it('a device whose partition moved five minutes on while it was offline lands its backlog in its own windows, exactly', { timeout: 120_000 }, async () => {
  const influx = await startInfluxd();
  cleanups.push(() => influx.destroy());
  const dir = await tempDir();
  cleanups.push(dir.remove);
  const db = 'backfill';
  const node = spawnSluice(await nodeArgs(dir.path, influx, db));
  watchNode(() => node, cleanups);
  const { mqtt, http } = await node.ready;
  const url = `mqtt://127.0.0.1:${mqtt}`;

  // Two devices of one partition.
  let n = 0;
  while (keyGroupOf(`returning-${n}`, 64) !== keyGroupOf('steady-0', 64)) n++;
  const baseMs = Math.floor((Date.now() - 20 * 60_000) / WINDOW_MS) * WINDOW_MS;
  const steady = new FloodDevice('steady-0', { baseMs, stepMs: 1_000 });
  const returning = new FloodDevice(`returning-${n}`, { baseMs, stepMs: 1_000 });
  for (const d of [steady, returning]) await d.connect(url);
  cleanups.push(() => Promise.all([steady.close(), returning.close()]));

  // The returning device sends its first minute, then goes quiet; the steady one carries its
  // partition five minutes on; then the returning device sends the four minutes it buffered.
  returning.burst(60);
  await returning.drained();
  steady.burst(300);
  await steady.drained();
  returning.burst(240);
  await returning.drained();

  const expected = new Map<string, ExpectedPoint>();
  for (const d of [steady, returning]) d.expected(WINDOW_MS, expected);
  const rows = await waitForPoints(influx, db, expected.size);
  expect(comparePoints(rows, expected)).toEqual({ missing: [], extra: [], mismatched: [] });
  expect(await scrapeMetric(http, 'sluice_processor_late_readings_total')).toBe(0);
});
