/** Issue 11: `sluice simulate --offline`: devices that buffer through an outage and send their backlog on return verify exact. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { startFleetNode } from './harness/fleet-node.js';
import { scrapeMetric } from './harness/pipeline-node.js';
import { SLUICE_BIN } from './harness/sluice-process.js';
import type { SimulationReport } from '../simulator/index.js';

const run = promisify(execFile);
const FLEET_KEY = 'offline-fleet-key-0123456789';
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

it('a quarter of the fleet offline for 12 s (past maxOutOfOrderness + allowedLateness) lands its backlog in its windows: verify exact, nothing late', { timeout: 120_000 }, async () => {
  const { configFile, httpPort: http } = await startFleetNode({ fleetKey: FLEET_KEY, database: 'offline', time: { maxOutOfOrderness: '1s', idleTimeout: '1s', allowedLateness: '5s' }, checkpointInterval: '500ms', cleanups });

  const simulate = await run(process.execPath, [
    SLUICE_BIN, 'simulate', '--config', configFile, '--devices', '40', '--rate', '2000', '--batch', '10', '--duration', '16s', '--seed', '11',
    '--disorder', '0.05', '--max-delay', '500ms', '--duplicates', '0.02', '--offline', '0.25,12s', '--verify', '--no-progress',
  ]).catch((err: { stdout: string; stderr: string }) => ({ stdout: `${err.stdout}\n${err.stderr}` }));
  expect(simulate.stdout).toMatch(/^verify: exact \([\d,]+ points\)$/m);
  expect(await scrapeMetric(http, 'sluice_processor_late_readings_total')).toBe(0);
});

it('a backlog older than time.maxBackfill goes to late_readings, each reading once per window, exactly as the reference model says', { timeout: 120_000 }, async () => {
  const { configFile, httpPort: http, dir } = await startFleetNode({ fleetKey: FLEET_KEY, database: 'offline_late', time: { maxOutOfOrderness: '1s', idleTimeout: '1s', allowedLateness: '5s', maxBackfill: '6s' }, checkpointInterval: '500ms', cleanups });
  const reportFile = join(dir, 'report.json');
  const simulate = await run(process.execPath, [
    SLUICE_BIN, 'simulate', '--config', configFile, '--devices', '40', '--rate', '2000', '--batch', '10', '--duration', '16s', '--seed', '12',
    '--disorder', '0.05', '--max-delay', '500ms', '--duplicates', '0.02', '--offline', '0.25,12s', '--report', reportFile, '--verify', '--no-progress',
  ]).catch((err: { stdout: string; stderr: string }) => ({ stdout: `${err.stdout}\n${err.stderr}` }));
  expect(simulate.stdout).toMatch(/^verify: exact \([\d,]+ points\)$/m);
  const report = JSON.parse(await readFile(reportFile, 'utf8')) as SimulationReport;
  // The first ~6 s of the ten buffering devices' 12 s away: 10 devices × 50 readings/s × ~5.5 s, in each of the config's windows.
  expect(report.expected.lateReadings).toBeGreaterThan(2_000);
  expect(simulate.stdout).toMatch(/^\s+late_readings\s+[\d,]+\s+[\d,]+\s+0\s+0\s+0$/m);
  expect(await scrapeMetric(http, 'sluice_processor_late_readings_total')).toBe(report.expected.lateReadings);
});
