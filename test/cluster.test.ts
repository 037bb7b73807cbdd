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
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { SimulationReport } from '../simulator/index.js';
import { scrapeMetric } from './harness/pipeline-node.js';
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

/** Resolves once `probe` holds, checking every 100 ms (an HTTP or NATS observation: nothing to await). */
async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

it('kill -9 of a processor under load, started again: verify exact', { timeout: 240_000 }, async () => {
  const cluster = await startSluiceCluster({ nats: 'cluster', gateways: 2, processors: ['0-31', '32-63'], fleetKey: FLEET_KEY, database: 'cluster_kill', time: TIME, cleanups });
  const running = simulate(cluster.configFile, cluster.urls, join(cluster.dir, 'report.json'), [
    '--devices', '40', '--rate', '2000', '--batch', '10', '--duration', '14s', '--seed', '22', '--disorder', '0.05', '--max-delay', '500ms', '--duplicates', '0.02',
  ]);
  const victim = cluster.processors[0]!;
  // Under load and past a checkpoint or two: then crash it and start it again from its checkpoints.
  await until('the processor to checkpoint processed messages', async () => (await scrapeMetric(victim.ports.http, 'sluice_processor_messages_total')) > 300);
  await victim.kill();
  await victim.start();
  const { stdout } = await running;
  expect(stdout).toMatch(/^verify: exact \([\d,]+ points\)$/m);
});

it('kill -9 of the NATS server leading the stream under load: nothing PUBACKed is missing or doubled; prints the longest PUBACK stall', { timeout: 240_000 }, async () => {
  const cluster = await startSluiceCluster({ nats: 'cluster', gateways: 2, processors: ['0-31', '32-63'], fleetKey: FLEET_KEY, database: 'cluster_leader', time: TIME, cleanups });
  const running = simulate(cluster.configFile, cluster.urls, join(cluster.dir, 'report.json'), [
    '--devices', '40', '--rate', '2000', '--batch', '10', '--duration', '16s', '--seed', '23', '--inflight', '16',
  ]);
  await until('the first checkpoints', async () => (await scrapeMetric(cluster.processors[0]!.ports.http, 'sluice_processor_messages_total')) > 300);
  const nc = await connect({ servers: cluster.nats.servers });
  let leader: string;
  try {
    leader = (await (await jetstreamManager(nc)).streams.info('SLUICE')).cluster!.leader!;
  } finally {
    await nc.close();
  }
  const index = cluster.nats.nodes.findIndex((n) => n.name === leader);
  expect(index).toBeGreaterThanOrEqual(0);
  await cluster.nats.kill(index);
  const { stdout, report } = await running;
  console.log(`stream leader ${leader} killed under load: longest PUBACK ${report.latencyMs.max.toFixed(0)} ms, p99 ${report.latencyMs.p99.toFixed(1)} ms, ${report.acknowledged} publishes acknowledged`);
  expect(report.acknowledged).toBe(report.sent.messages + report.sent.duplicates);
  expect(stdout).toMatch(/^verify: exact \([\d,]+ points\)$/m);
});

it('a processor started a second time for the same partitions fences the first: its checkpoint is refused and it stops', { timeout: 240_000 }, async () => {
  const cluster = await startSluiceCluster({ nats: 'single', gateways: 1, processors: ['0-63'], fleetKey: FLEET_KEY, database: 'cluster_fence', time: TIME, cleanups });
  const first = cluster.processors[0]!;
  const second = cluster.processor('0-63');
  await second.start();
  // The first one's next checkpoint (every second) meets the epoch the second one claimed.
  const code = await first.process.exited;
  const output = first.process.output.join('\n');
  expect(output).toMatch(/partition \d+: checkpoint refused, our epoch 1 but the manifest holds epoch 2 .*another processor owns this partition now.*\[SLUICE_CHECKPOINT_FENCED\]/);
  expect(code).toBe(2);
  expect(second.process.child.exitCode).toBeNull();
});
