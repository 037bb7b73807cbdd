/**
 * Issue 13: distributed mode end to end on real servers: a 3-node NATS JetStream cluster
 * (stream replicas 3), two `sluice gateway` and two `sluice processor` processes (static
 * halves of the partitions), InfluxDB, and `sluice simulate` spread over both gateways.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import type { SimulationReport } from '../simulator/index.js';
import { startSluiceCluster } from './harness/sluice-cluster.js';
import { SLUICE_BIN } from './harness/sluice-process.js';

const run = promisify(execFile);
const FLEET_KEY = 'cluster-fleet-key-0123456789';
const TIME = { maxOutOfOrderness: '1s', idleTimeout: '1s', allowedLateness: '5s' };
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** `sluice simulate … --verify` against the cluster's gateways; resolves with its output and report. */
async function simulate(configFile: string, urls: string, reportFile: string, extra: string[]): Promise<{ stdout: string; report: SimulationReport }> {
  const out = await run(process.execPath, [
    SLUICE_BIN, 'simulate', '--config', configFile, '--url', urls, '--report', reportFile, '--verify', '--no-progress', ...extra,
  ], { maxBuffer: 16 * 1024 * 1024 }).catch((err: { stdout: string; stderr: string }) => ({ stdout: `${err.stdout}\n${err.stderr}` }));
  const report = JSON.parse(await readFile(reportFile, 'utf8').catch(() => '{}')) as SimulationReport;
  return { stdout: out.stdout, report };
}

it('two gateways and two processors on a 3-node cluster (R3): disorder, duplicates, broken payloads and churn over both gateways verify exact', { timeout: 240_000 }, async () => {
  const cluster = await startSluiceCluster({ nats: 'cluster', gateways: 2, processors: ['0-31', '32-63'], fleetKey: FLEET_KEY, database: 'cluster', time: TIME, cleanups });
  const { stdout, report } = await simulate(cluster.configFile, cluster.urls, join(cluster.dir, 'report.json'), [
    '--devices', '60', '--rate', '3000', '--batch', '10', '--duration', '12s', '--seed', '21',
    '--disorder', '0.05', '--max-delay', '500ms', '--duplicates', '0.02', '--malformed', '0.02', '--churn', '30',
  ]);
  expect(stdout).toMatch(/^verify: exact \([\d,]+ points\)$/m);
  expect(report.connections.reconnects).toBeGreaterThan(0);
  expect(report.acknowledged).toBe(report.sent.messages + report.sent.duplicates);
});
