/**
 * Issue 14: a cluster that heals itself, end to end on real servers: a 3-node NATS
 * cluster (R3), two gateways, processors sharing the 64 partitions by lease, InfluxDB,
 * and a simulated fleet with disorder and duplicates over both gateways; verify exact at
 * the end of every scenario.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterEach, expect, it } from 'vitest';
import { readClusterStatus, type ClusterStatus } from '../cluster/index.js';
import type { SimulationReport } from '../simulator/index.js';
import { scrapeMetric } from './harness/pipeline-node.js';
import { startSluiceCluster, type ClusterMember, type SluiceCluster } from './harness/sluice-cluster.js';
import { SLUICE_BIN } from './harness/sluice-process.js';

const run = promisify(execFile);
const FLEET_KEY = 'heal-fleet-key-0123456789';
const TIME = { maxOutOfOrderness: '1s', idleTimeout: '1s', allowedLateness: '5s' };
const CLUSTER = { handoffGrace: '2s' };
const PARTITIONS = 64;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** `sluice simulate … --verify` over the cluster's gateways, started now; resolves with its output and report. */
function simulate(cluster: SluiceCluster, name: string, extra: string[]): Promise<{ stdout: string; report: SimulationReport }> {
  const reportFile = join(cluster.dir, `${name}.json`);
  return run(process.execPath, [
    SLUICE_BIN, 'simulate', '--config', cluster.configFile, '--url', cluster.urls, '--report', reportFile, '--verify', '--no-progress',
    '--devices', '40', '--rate', '2000', '--batch', '10', '--disorder', '0.05', '--max-delay', '500ms', '--duplicates', '0.02', ...extra,
  ], { maxBuffer: 16 * 1024 * 1024 })
    .catch((err: { stdout: string; stderr: string }) => ({ stdout: `${err.stdout}\n${err.stderr}` }))
    .then(async (out) => ({ stdout: out.stdout, report: JSON.parse(await readFile(reportFile, 'utf8').catch(() => '{}')) as SimulationReport }));
}

/**
 * The cluster's members and lease holders as NATS holds them now. Asked again while a
 * request times out: right after a NATS server is killed, the buckets elect new leaders.
 */
async function status(cluster: SluiceCluster): Promise<ClusterStatus> {
  for (let attempt = 1; ; attempt++) {
    const nc = await connect({ servers: cluster.nats.servers });
    try {
      return await readClusterStatus(nc, { membersBucket: 'SLUICE_MEMBERS', leasesBucket: 'SLUICE_LEASES' });
    } catch (err) {
      if ((err as Error).name !== 'TimeoutError' || attempt >= 10) throw err;
    } finally {
      await nc.close();
    }
  }
}

/** Lease holder per partition (undefined: free). */
async function holders(cluster: SluiceCluster): Promise<(string | undefined)[]> {
  const s = await status(cluster);
  const out: (string | undefined)[] = new Array(PARTITIONS).fill(undefined);
  for (const l of s.leases) out[l.partition] = l.holder;
  return out;
}

/** Resolves once `probe` holds, checking every 100 ms (a NATS observation: nothing to await); returns the ms it took. */
async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  while (!(await probe().catch(() => false))) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return Date.now() - started;
}

/** The member id a processor announced ('processor joined the cluster'). */
function memberIdOf(m: ClusterMember): string {
  const line = m.process.output.find((l) => l.includes('processor joined the cluster'));
  if (line === undefined) throw new Error(`${m.name} has not joined the cluster`);
  return (JSON.parse(line) as { member: string }).member;
}

/** Waits until `m` has counted processed messages at a checkpoint: the cluster is under load. */
async function underLoad(m: ClusterMember): Promise<void> {
  await until(`${m.name} to process messages`, async () => (await scrapeMetric(m.ports.http, 'sluice_processor_messages_total')) > 100);
}

/** Every partition held by one of `members` (and the members are exactly those live). */
async function allHeldBy(cluster: SluiceCluster, members: number): Promise<boolean> {
  const s = await status(cluster);
  const live = new Set(s.members.filter((m) => m.heartbeatAgeSeconds < 3).map((m) => m.id));
  return live.size === members && s.leases.length === PARTITIONS && s.leases.every((l) => l.holder !== undefined && live.has(l.holder));
}

it('three processors share the 64 partitions; kill -9 of one under load: its partitions are owned again within 10 s, verify exact', { timeout: 240_000 }, async () => {
  const cluster = await startSluiceCluster({ nats: 'cluster', gateways: 2, processors: [null, null, null], fleetKey: FLEET_KEY, database: 'heal_kill', time: TIME, cluster: CLUSTER, cleanups });
  await until('all partitions held by the three processors', () => allHeldBy(cluster, 3));
  const running = simulate(cluster, 'kill', ['--duration', '20s', '--seed', '31']);
  const victim = cluster.processors[0]!;
  await underLoad(victim);
  const before = await holders(cluster);
  const dead = memberIdOf(victim);
  await victim.kill();
  const owned = await until('every partition owned by the two left', () => allHeldBy(cluster, 2), 30_000);
  console.log(`kill -9 of a processor: its partitions owned again after ${owned} ms`);
  expect(owned).toBeLessThan(10_000);
  const after = await holders(cluster);
  // Exactly the dead member's partitions moved.
  const moved = before.flatMap((h, p) => (h !== after[p] ? [p] : []));
  expect(moved).toEqual(before.flatMap((h, p) => (h === dead ? [p] : [])));
  const { stdout } = await running;
  expect(stdout).toMatch(/^verify: exact \([\d,]+ points\)$/m);
});

it('a 4th processor joins under load: at most 1/4 + 5 % of the partitions move, all to it; verify exact', { timeout: 240_000 }, async () => {
  const cluster = await startSluiceCluster({ nats: 'cluster', gateways: 2, processors: [null, null, null], fleetKey: FLEET_KEY, database: 'heal_join', time: TIME, cluster: CLUSTER, cleanups });
  await until('all partitions held by the three processors', () => allHeldBy(cluster, 3));
  const running = simulate(cluster, 'join', ['--duration', '16s', '--seed', '32']);
  await underLoad(cluster.processors[0]!);
  const before = await holders(cluster);
  const fourth = cluster.processor(null);
  const started = Date.now();
  await fourth.start();
  const joined = memberIdOf(fourth);
  await until('the new processor to hold its share', async () => (await holders(cluster)).filter((h) => h === joined).length >= PARTITIONS / 4);
  console.log(`a 4th processor joined: its share held ${Date.now() - started} ms after it started`);
  const after = await holders(cluster);
  const moved = before.flatMap((h, p) => (h !== after[p] ? [p] : []));
  expect(moved.length).toBeLessThanOrEqual(Math.floor(PARTITIONS * (0.25 + 0.05)));
  expect(moved.every((p) => after[p] === joined)).toBe(true);
  const { stdout } = await running;
  expect(stdout).toMatch(/^verify: exact \([\d,]+ points\)$/m);
});

it('SIGTERM of a processor: its partitions move without waiting for the leases to expire; verify exact', { timeout: 240_000 }, async () => {
  const cluster = await startSluiceCluster({ nats: 'cluster', gateways: 2, processors: [null, null, null], fleetKey: FLEET_KEY, database: 'heal_term', time: TIME, cluster: CLUSTER, cleanups });
  await until('all partitions held by the three processors', () => allHeldBy(cluster, 3));
  const running = simulate(cluster, 'term', ['--duration', '14s', '--seed', '33']);
  const leaving = cluster.processors[2]!;
  await underLoad(leaving);
  const started = Date.now();
  leaving.process.child.kill('SIGTERM');
  expect(await leaving.process.exited).toBe(0);
  const moved = await until('every partition owned by the two left', () => allHeldBy(cluster, 2), 30_000);
  console.log(`SIGTERM: partitions handed over and owned ${Date.now() - started} ms after the signal (${moved} ms after exit)`);
  // The lease time is 6 s: a handover that waited for it would take longer than the whole exit plus this.
  expect(moved).toBeLessThan(3_000);
  const { stdout } = await running;
  expect(stdout).toMatch(/^verify: exact \([\d,]+ points\)$/m);
});

it('SIGSTOP of a processor past its leases, then SIGCONT: it writes nothing for the partitions it lost; verify exact', { timeout: 240_000 }, async () => {
  const cluster = await startSluiceCluster({ nats: 'cluster', gateways: 2, processors: [null, null, null], fleetKey: FLEET_KEY, database: 'heal_stop', time: TIME, cluster: CLUSTER, cleanups });
  await until('all partitions held by the three processors', () => allHeldBy(cluster, 3));
  const running = simulate(cluster, 'stop', ['--duration', '22s', '--seed', '34']);
  const frozen = cluster.processors[1]!;
  await underLoad(frozen);
  const requestsBefore = await sinkRequests(frozen);
  frozen.process.child.kill('SIGSTOP');
  await until('the others to own every partition', () => allHeldBy(cluster, 2), 30_000);
  frozen.process.child.kill('SIGCONT');
  // Woken past its leases, its first renewal finds them taken: it lets every partition go
  // without writing for them (its gate holds any flush until then; what it buffered is discarded).
  await until('the frozen processor to find its leases lost', async () => (await scrapeMetric(frozen.ports.http, 'sluice_cluster_leases_lost_total')) > 0);
  const requestsAtLoss = await sinkRequests(frozen);
  const lost = await scrapeMetric(frozen.ports.http, 'sluice_cluster_leases_lost_total');
  const held = await scrapeMetric(frozen.ports.http, 'sluice_processor_sink_gate_waits_total');
  const discarded = await scrapeMetric(frozen.ports.http, 'sluice_processor_points_discarded_total');
  console.log(`SIGSTOP/SIGCONT: ${lost} leases lost, ${held} flushes held by the write gate, ${discarded} points discarded unwritten; InfluxDB requests ${requestsBefore} before the stop, ${requestsAtLoss} when the loss was seen`);
  expect(lost).toBeGreaterThan(0);
  expect(requestsAtLoss).toBe(requestsBefore);
  const { stdout } = await running;
  expect(stdout).toMatch(/^verify: exact \([\d,]+ points\)$/m);
});

/** InfluxDB write requests a processor has made (its sink's request histogram count). */
async function sinkRequests(m: ClusterMember): Promise<number> {
  return scrapeMetric(m.ports.http, 'sluice_processor_sink_write_seconds_count');
}

it('kill -9 of the NATS server leading the leases bucket: no partition moves; verify exact', { timeout: 240_000 }, async () => {
  const cluster = await startSluiceCluster({ nats: 'cluster', gateways: 2, processors: [null, null, null], fleetKey: FLEET_KEY, database: 'heal_kv', time: TIME, cluster: CLUSTER, cleanups });
  await until('all partitions held by the three processors', () => allHeldBy(cluster, 3));
  const running = simulate(cluster, 'kv', ['--duration', '20s', '--seed', '35']);
  await underLoad(cluster.processors[0]!);
  const before = await holders(cluster);
  const nc = await connect({ servers: cluster.nats.servers });
  let leader: string;
  try {
    leader = (await (await jetstreamManager(nc)).streams.info('KV_SLUICE_LEASES')).cluster!.leader!;
  } finally {
    await nc.close();
  }
  await cluster.nats.kill(cluster.nats.nodes.findIndex((n) => n.name === leader));
  const { stdout } = await running;
  expect(await holders(cluster)).toEqual(before);
  expect(stdout).toMatch(/^verify: exact \([\d,]+ points\)$/m);
});

it('kill -9 of a gateway: its devices reconnect to the other one; nothing PUBACKed is lost; verify exact', { timeout: 240_000 }, async () => {
  const cluster = await startSluiceCluster({ nats: 'cluster', gateways: 2, processors: [null, null], fleetKey: FLEET_KEY, database: 'heal_gw', time: TIME, cluster: CLUSTER, cleanups });
  await until('all partitions held by the two processors', () => allHeldBy(cluster, 2));
  const running = simulate(cluster, 'gw', ['--duration', '16s', '--seed', '36', '--inflight', '16']);
  await underLoad(cluster.processors[0]!);
  await cluster.gateways[0]!.kill();
  const { stdout, report } = await running;
  expect(report.connections.reconnects).toBeGreaterThan(0);
  expect(report.acknowledged).toBe(report.sent.messages + report.sent.duplicates);
  expect(stdout).toMatch(/^verify: exact \([\d,]+ points\)$/m);
});
