/** Issue 11, defect 1: one device's clock ahead must not make other devices' readings late. */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { afterAll, expect, it } from 'vitest';
import { keyGroupOf } from '../routing/index.js';
import { connectDevice, deviceToken, encodeBatch } from './harness/devices.js';
import { freePort, startInfluxd } from './harness/influxdb.js';
import { scrapeMetric, watchNode } from './harness/pipeline-node.js';
import { SLUICE_BIN, spawnSluice } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

const run = promisify(execFile);
const FLEET_KEY = 'clock-ahead-fleet-key-0123456789';
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

it('a reading minutes ahead is refused (timestamp_future); one within the future skew leaves 200 other devices exact', { timeout: 120_000 }, async () => {
  const influx = await startInfluxd();
  cleanups.push(() => influx.destroy());
  const dir = await tempDir('sluice-clock-');
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
      decode: { threads: 1 },
      influx: { url: influx.url, database: 'clock', flushInterval: '200ms' },
      time: { idleTimeout: '1s' },
      checkpoint: { interval: '1s' },
    }),
  );
  const node = spawnSluice(['start', '--config', configFile]);
  watchNode(() => node, cleanups);
  const { http } = await node.ready;

  // A device sharing its partition with simulated ones.
  const simulated = new Set(Array.from({ length: 200 }, (_, d) => keyGroupOf(`sim-${String(d).padStart(5, '0')}`, 64)));
  let n = 0;
  while (!simulated.has(keyGroupOf(`clock-${n}`, 64))) n++;
  const id = `clock-${n}`;
  const ahead = await connectDevice(`mqtt://127.0.0.1:${mqttPort}`, id, deviceToken(FLEET_KEY, id));
  cleanups.push(() => ahead.endAsync(true));

  const simulating = run(process.execPath, [
    SLUICE_BIN, 'simulate', '--config', configFile, '--devices', '200', '--rate', '4000', '--batch', '10', '--duration', '12s', '--seed', '7',
    '--disorder', '0.05', '--max-delay', '500ms', '--verify', '--no-progress',
  ]).catch((err: { stdout: string; stderr: string }) => ({ stdout: `${err.stdout}\n${err.stderr}` }));
  // Two seconds in: one reading 280 s ahead (refused), then one 9 s ahead (within the 10 s skew: accepted).
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  await ahead.publishAsync(`devices/${id}/telemetry`, encodeBatch({ seq: 1, readings: [{ metric: 'temperature', timeUnixMs: Date.now() + 280_000, doubleValue: 1 }] }), { qos: 1 });
  await ahead.publishAsync(`devices/${id}/telemetry`, encodeBatch({ seq: 2, readings: [{ metric: 'temperature', timeUnixMs: Date.now() + 9_000, doubleValue: 2 }] }), { qos: 1 });
  const { stdout } = await simulating;

  expect(stdout).toMatch(/^verify: exact \([\d,]+ points\)$/m);
  const metrics = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
  expect(metrics).toMatch(/^sluice_gateway_rejected_total\{reason="timestamp_future"\} 1$/m);
  expect(await scrapeMetric(http, 'sluice_processor_late_readings_total')).toBe(0);
});
