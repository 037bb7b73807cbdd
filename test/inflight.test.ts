/** Issue 9: devices with hundreds of publishes in flight, several decode threads: every acknowledged reading counted once. */
import { afterEach, expect, it } from 'vitest';
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

it('devices with hundreds of unacknowledged publishes each (QoS 0 and 1, protobuf and JSON, 3 decode threads): every window exact, duplicates = re-sends', { timeout: 120_000 }, async () => {
  const influx = await startInfluxd();
  cleanups.push(() => influx.destroy());
  const dir = await tempDir();
  cleanups.push(dir.remove);
  const db = 'inflight';
  const args = [
    ...(await nodeArgs(dir.path, influx, db)),
    // Many small decode jobs on several threads: they complete out of order.
    '--set', 'decode.threads=3', '--set', 'ingest.batchMaxMessages=16',
    // Devices progress at different speeds (600 messages span 6 s of event time): none may be late for that alone.
    '--set', 'time.maxOutOfOrderness=7s',
  ];
  const node = spawnSluice(args);
  watchNode(() => node, cleanups);
  const { mqtt, http } = await node.ready;

  const baseMs = Math.floor((Date.now() - 20 * 60_000) / WINDOW_MS) * WINDOW_MS;
  const devices = Array.from({ length: 24 }, (_, i) => new FloodDevice(`flood-${i}`, { baseMs, stepMs: 10, json: i % 6 === 1, qos0: i % 6 === 2 }));
  for (const d of devices) await d.connect(`mqtt://127.0.0.1:${mqtt}`);
  cleanups.push(() => Promise.all(devices.map((d) => d.close())));

  // Three bursts of 200 per device, each sent before any PUBACK of the ones before; the
  // QoS 1 devices also re-send 10 messages already sent (real duplicates).
  for (let b = 0; b < 3; b++) {
    for (const d of devices) d.burst(200);
    await new Promise((resolve) => setImmediate(resolve));
  }
  devices.forEach((d, i) => {
    if (i % 6 !== 2) for (let r = 0; r < 10; r++) d.resend((i * 37 + r * 53) % d.sent);
  });
  await Promise.all(devices.map((d) => d.drained()));

  const expected = new Map<string, ExpectedPoint>();
  for (const d of devices) d.expected(WINDOW_MS, expected);
  const rows = await waitForPoints(influx, db, expected.size);
  expect(comparePoints(rows, expected)).toEqual({ missing: [], extra: [], mismatched: [] });

  // Counted at checkpoints: wait for it to reach the re-sends, then it must not pass them.
  const resends = devices.reduce((n, d) => n + d.resends, 0);
  expect(resends).toBeGreaterThanOrEqual(200);
  let duplicates = 0;
  for (let i = 0; i < 100 && duplicates < resends; i++) {
    duplicates = await scrapeMetric(http, 'sluice_processor_duplicates_total');
    if (duplicates < resends) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(duplicates).toBe(resends);
});
