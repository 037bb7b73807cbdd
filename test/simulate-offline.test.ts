/** Issue 11: `sluice simulate --offline`: devices that buffer through an outage and send their backlog on return verify exact. */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { afterAll, expect, it } from 'vitest';
import { freePort, startInfluxd } from './harness/influxdb.js';
import { scrapeMetric, watchNode } from './harness/pipeline-node.js';
import { SLUICE_BIN, spawnSluice } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

const run = promisify(execFile);
const FLEET_KEY = 'offline-fleet-key-0123456789';
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

it('a quarter of the fleet offline for 12 s (past maxOutOfOrderness + allowedLateness) lands its backlog in its windows: verify exact, nothing late', { timeout: 120_000 }, async () => {
  const influx = await startInfluxd();
  cleanups.push(() => influx.destroy());
  const dir = await tempDir('sluice-offline-');
  cleanups.push(dir.remove);
  const configFile = join(dir.path, 'sluice.yaml');
  await writeFile(
    configFile,
    stringify({
      dataDir: join(dir.path, 'data'),
      mqtt: { host: '127.0.0.1', port: await freePort() },
      http: { host: '127.0.0.1', port: await freePort() },
      auth: { mode: 'token', fleetKey: FLEET_KEY },
      decode: { threads: 1 },
      influx: { url: influx.url, database: 'offline', flushInterval: '200ms' },
      time: { maxOutOfOrderness: '1s', idleTimeout: '1s', allowedLateness: '5s' },
      checkpoint: { interval: '500ms' },
    }),
  );
  const node = spawnSluice(['start', '--config', configFile]);
  watchNode(() => node, cleanups);
  const { http } = await node.ready;

  const simulate = await run(process.execPath, [
    SLUICE_BIN, 'simulate', '--config', configFile, '--devices', '40', '--rate', '2000', '--batch', '10', '--duration', '16s', '--seed', '11',
    '--disorder', '0.05', '--max-delay', '500ms', '--duplicates', '0.02', '--offline', '0.25,12s', '--verify', '--no-progress',
  ]).catch((err: { stdout: string; stderr: string }) => ({ stdout: `${err.stdout}\n${err.stderr}` }));
  expect(simulate.stdout).toMatch(/^verify: exact \([\d,]+ points\)$/m);
  expect(await scrapeMetric(http, 'sluice_processor_late_readings_total')).toBe(0);
});
