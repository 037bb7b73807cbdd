/** End to end: `sluice simulate --verify` through a real `sluice start` into a real influxd, then a deleted point caught by `sluice verify`. */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { SimulationReport } from '../simulator/index.js';
import { freePort, startInfluxd, type TestInfluxd } from './harness/influxdb.js';
import { watchNode } from './harness/pipeline-node.js';
import { SLUICE_BIN, spawnSluice, type SluiceProcess } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

const run = promisify(execFile);
const FLEET_KEY = 'end-to-end-fleet-key-0123456789';

let influx: TestInfluxd;
let dir: Awaited<ReturnType<typeof tempDir>>;
const cleanups: (() => Promise<unknown>)[] = [];
beforeAll(async () => {
  influx = await startInfluxd();
  dir = await tempDir('sluice-e2e-');
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await influx?.destroy();
  await dir?.remove();
});

it('simulate with disorder, duplicates, broken payloads and churn verifies exact; a deleted point is then reported missing', async () => {
  const configFile = join(dir.path, 'sluice.yaml');
  await writeFile(
    configFile,
    stringify({
      dataDir: join(dir.path, 'data'),
      mqtt: { host: '127.0.0.1', port: await freePort() },
      http: { host: '127.0.0.1', port: await freePort() },
      auth: { mode: 'token', fleetKey: FLEET_KEY },
      decode: { threads: 1 },
      influx: { url: influx.url, database: 'e2e', flushInterval: '200ms' },
      time: { maxOutOfOrderness: '1s', idleTimeout: '1s', allowedLateness: '10s' },
      checkpoint: { interval: '500ms' },
      windows: [
        { name: 'tumbling_5s', type: 'tumbling', size: '5s' },
        { name: 'sliding_10s', type: 'sliding', size: '10s', slide: '5s' },
      ],
    }),
  );
  const node: SluiceProcess = spawnSluice(['start', '--config', configFile]);
  watchNode(() => node, cleanups);
  await node.ready;

  const report = join(dir.path, 'report.json');
  const simulate = await run(process.execPath, [
    SLUICE_BIN, 'simulate', '--config', configFile, '--devices', '40', '--rate', '2000', '--batch', '10', '--duration', '6s', '--seed', '42',
    '--disorder', '0.1', '--max-delay', '800ms', '--duplicates', '0.05', '--malformed', '0.01', '--churn', '120', '--report', report, '--verify', '--no-progress',
  ]).catch((err: { stdout: string; stderr: string; code: number }) => err);
  expect(simulate.stdout, simulate.stderr).toMatch(/^verify: exact \(\d+ points\)$/m);
  expect('code' in simulate ? simulate.code : 0).toBe(0);
  const r = JSON.parse(await readFile(report, 'utf8')) as SimulationReport;
  expect(r.sent.duplicates).toBeGreaterThan(0);
  expect(r.sent.malformed).toBeGreaterThan(0);
  expect(r.connections.reconnects).toBeGreaterThan(0);
  expect(r.expected.points.length).toBeGreaterThan(100);

  // Take one expected point away from InfluxDB: verify names exactly that one and fails.
  const gone = r.expected.points.find((p) => p.measurement === 'sliding_10s')!;
  await influx.query(`DELETE FROM "sliding_10s" WHERE "device" = '${gone.device}' AND "metric" = '${gone.metric}' AND time = ${gone.time}ms`, 'e2e');
  const verify = await run(process.execPath, [SLUICE_BIN, 'verify', '--config', configFile, '--report', report, '--json']).catch((err: { stdout: string; code: number }) => err);
  expect('code' in verify ? verify.code : 0).toBe(1);
  const result = JSON.parse(verify.stdout) as { exact: boolean; total: { missing: number; extra: number; mismatched: number }; missing: { device: string; metric: string; time: number; measurement: string }[] };
  expect(result.exact).toBe(false);
  expect(result.total).toMatchObject({ missing: 1, extra: 0, mismatched: 0 });
  expect(result.missing).toEqual([expect.objectContaining({ measurement: 'sliding_10s', device: gone.device, metric: gone.metric, time: gone.time })]);
});
