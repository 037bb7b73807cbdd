/**
 * Distributed mode end to end on real servers: a 3-node NATS JetStream cluster (stream
 * replicas 3), two `sluice gateway` processes, `sluice processor` processes (static halves
 * of the partitions, issue 13; or sharing the 64 partitions by lease, issue 14), InfluxDB,
 * and `sluice simulate` with disorder and duplicates spread over both gateways; verify
 * exact at the end of every scenario.
 *
 * One file on purpose: each scenario runs ~8 processes on the two cores, and vitest runs
 * the tests of a file one after another, never two of these clusters at once.
 * Several failures share one run where they are independent: a cluster start and a
 * verify are most of each scenario's time.
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
const FLEET_KEY = 'cluster-fleet-key-0123456789';
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

/**
 * How long after `since` (epoch ms) processor `m` went on reading the log: the time of its
 * last 'the log answers again' line after `since` (0 if the log never failed it; now if it
 * still waits). Its own log lines, not a probe: the stall is over when its loop says so.
 */
function logStallAfter(m: ClusterMember, since: number): number {
  let resumed = since;
  let waiting = false;
  for (const line of m.process.output) {
    let entry: { time?: number; msg?: string };
    try {
      entry = JSON.parse(line) as { time?: number; msg?: string };
    } catch {
      continue;
    }
    if (entry.time === undefined || entry.time < since) continue;
    if (entry.msg === 'the log is unavailable; processing waits for it') waiting = true;
    if (entry.msg === 'the log answers again; processing goes on') {
      waiting = false;
      resumed = entry.time;
    }
  }
  return (waiting ? Date.now() : resumed) - since;
}

/** Every partition held by one of `members` (and the members are exactly those live). */
async function allHeldBy(cluster: SluiceCluster, members: number): Promise<boolean> {
  const s = await status(cluster);
  const live = new Set(s.members.filter((m) => m.heartbeatAgeSeconds < 3).map((m) => m.id));
  return live.size === members && s.leases.length === PARTITIONS && s.leases.every((l) => l.holder !== undefined && live.has(l.holder));
}

/** allHeldBy, and shared out evenly (each live member holds ⌊64/n⌋ or ⌈64/n⌉): the balancer has nothing left to move. */
async function balanced(cluster: SluiceCluster, members: number): Promise<boolean> {
  if (!(await allHeldBy(cluster, members))) return false;
  const counts = new Map<string, number>();
  for (const h of await holders(cluster)) counts.set(h!, (counts.get(h!) ?? 0) + 1);
  return counts.size === members && [...counts.values()].every((n) => n === Math.floor(PARTITIONS / members) || n === Math.ceil(PARTITIONS / members));
}

it('static halves: disorder, duplicates, broken payloads and churn over both gateways; a processor killed -9 under load and started again, then the NATS server leading the stream killed -9: nothing PUBACKed is missing or doubled, verify exact', { timeout: 240_000 }, async () => {
  const cluster = await startSluiceCluster({ nats: 'cluster', gateways: 2, processors: ['0-31', '32-63'], fleetKey: FLEET_KEY, database: 'cluster_static', time: TIME, cleanups });
  const running = simulate(cluster, 'static', [
    '--devices', '60', '--rate', '3000', '--duration', '18s', '--seed', '22', '--malformed', '0.02', '--churn', '30', '--inflight', '16',
  ]);
  const victim = cluster.processors[0]!;
  // Under load and past a checkpoint or two: then crash it and start it again from its checkpoints.
  await until('the processor to checkpoint processed messages', async () => (await scrapeMetric(victim.ports.http, 'sluice_processor_messages_total')) > 300);
  await victim.kill();
  await victim.start();
  await until('the restarted processor to process messages', async () => (await scrapeMetric(victim.ports.http, 'sluice_processor_messages_total')) > 100);
  const nc = await connect({ servers: cluster.nats.servers });
  let leader: string;
  try {
    leader = (await (await jetstreamManager(nc)).streams.info('SLUICE')).cluster!.leader!;
  } finally {
    await nc.close();
  }
  const index = cluster.nats.nodes.findIndex((n) => n.name === leader);
  expect(index).toBeGreaterThanOrEqual(0);
  const killedAt = Date.now();
  await cluster.nats.kill(index);
  const { stdout, report } = await running;
  console.log(`stream leader ${leader} killed under load: longest PUBACK ${report.latencyMs.max.toFixed(0)} ms, p99 ${report.latencyMs.p99.toFixed(1)} ms, ${report.acknowledged} publishes acknowledged`);
  // One server of three lost costs a leader election (~5 s), not more: a processor that was
  // still catching up (the restarted one) used to wait 30-40 s, its lag gauge's consumer
  // creates timing out on the dead server (see ProcessorNode.refreshLags).
  const stalls = cluster.processors.map((p) => logStallAfter(p, killedAt));
  console.log(`NATS server killed: processing resumed ${stalls.map((s, i) => `${cluster.processors[i]!.name} ${(s / 1000).toFixed(1)} s`).join(', ')} after the kill`);
  for (const stall of stalls) expect(stall).toBeLessThan(20_000);
  // Each gateway's /metrics shows its appends to the stream, and the retries the election cost.
  const published = await Promise.all(cluster.gateways.map((g) => g.metric('sluice_log_frames_published_total')));
  const retried = await Promise.all(cluster.gateways.map((g) => g.metric('sluice_log_publish_retries_total')));
  console.log(`gateways: frames published ${published.join(', ')}; publishes retried ${retried.join(', ')}`);
  for (const frames of published) expect(frames).toBeGreaterThan(0);
  expect(report.connections.reconnects).toBeGreaterThan(0);
  expect(report.acknowledged).toBe(report.sent.messages + report.sent.duplicates);
  expect(stdout).toMatch(/^verify: exact \([\d,]+ points\)$/m);
});

it('three processors share the 64 partitions; kill -9 of one under load: exactly its partitions are taken over by the others; a processor that joins takes at most its share + 5 %, all from the others; verify exact', { timeout: 240_000 }, async () => {
  const cluster = await startSluiceCluster({ nats: 'cluster', gateways: 2, processors: [null, null, null], fleetKey: FLEET_KEY, database: 'heal_kill', time: TIME, cluster: CLUSTER, cleanups });
  await until('the three processors to share the partitions evenly', () => balanced(cluster, 3));
  // One run of the fleet for both: a crash, then a join into the two that are left.
  const running = simulate(cluster, 'kill', ['--duration', '24s', '--seed', '31']);
  const victim = cluster.processors[0]!;
  await underLoad(victim);
  const beforeKill = await holders(cluster);
  const dead = memberIdOf(victim);
  const takenBefore = await takenOver(cluster.processors.slice(1));
  await victim.kill();
  const owned = await until('every partition owned by the two left', () => allHeldBy(cluster, 2), 60_000);
  // How fast is measured by `npm run bench:failover` (6 s here alone, 15-17 s beside other tests on two cores).
  console.log(`kill -9 of a processor: its partitions owned again after ${owned} ms`);
  // Owned is not yet settled: views of the members differ for a moment, and one survivor may hold one more until the next round evens it out.
  await until('the two left to share the partitions evenly', () => balanced(cluster, 2));
  const afterKill = await holders(cluster);
  // The dead member's partitions moved, each taken over as a failover (its holder never released it), and only
  // they: a survivor keeps what it held, and who gets the larger share depends on the members, not on a view of
  // their load that differs while the orphans are taken (routing.test.ts), so no partition moves between the
  // survivors to even out. (Allowed up to two before that fix; 0 in every run after it.)
  const deadPartitions = beforeKill.flatMap((h, p) => (h === dead ? [p] : []));
  const survivorsMoved = moved(beforeKill, afterKill).filter((p) => beforeKill[p] !== dead);
  console.log(`kill -9: ${deadPartitions.length} partitions taken over, ${survivorsMoved.length} moved between the survivors to even out`);
  expect(deadPartitions.every((p) => afterKill[p] !== dead && afterKill[p] !== undefined)).toBe(true);
  expect(survivorsMoved).toEqual([]);
  // Counted once each is taken on (claim and restore), which follows the lease by a while.
  await until('the survivors to take the dead member\'s partitions on', async () => (await takenOver(cluster.processors.slice(1))) - takenBefore >= deadPartitions.length);
  expect((await takenOver(cluster.processors.slice(1))) - takenBefore).toBe(deadPartitions.length);

  const joining = cluster.processor(null);
  const started = Date.now();
  await joining.start();
  const joined = memberIdOf(joining);
  const share = Math.floor(PARTITIONS / 3);
  await until('the new processor to hold its share', async () => (await holders(cluster)).filter((h) => h === joined).length >= share);
  console.log(`a processor joined two: its share held ${Date.now() - started} ms after it started`);
  // Compare settled states: a partition released to the joiner and not yet taken has no holder for a moment.
  await until('the three to share the partitions evenly', () => balanced(cluster, 3));
  const afterJoin = await holders(cluster);
  expect(moved(afterKill, afterJoin).length).toBeLessThanOrEqual(Math.floor(PARTITIONS * (1 / 3 + 0.05)));
  // All to the joiner. Before assignPartitions gave the larger share by a fixed rank, 2 of 12 runs here ended with
  // one partition moved between the two old members (their views of each other's load differed mid-handover; see
  // routing.test.ts); none in the ten runs since.
  const between = moved(afterKill, afterJoin).filter((p) => afterJoin[p] !== joined);
  console.log(`join: ${moved(afterKill, afterJoin).length - between.length} partitions moved to the joiner, ${between.length} between the others (${between.map((p) => `${p}: ${afterKill[p]} → ${afterJoin[p]}`).join(', ')})`);
  expect(between).toEqual([]);
  const { stdout } = await running;
  expect(stdout).toMatch(/^verify: exact \([\d,]+ points\)$/m);
});

/** Partitions `members` took on from a holder that had not released them (failovers), summed. */
async function takenOver(members: ClusterMember[]): Promise<number> {
  let sum = 0;
  for (const m of members) sum += await scrapeMetric(m.ports.http, 'sluice_cluster_partitions_taken_over_total');
  return sum;
}

/** Partitions `members` have taken on (hold and process), summed. */
async function partitionsOwned(members: ClusterMember[]): Promise<number> {
  let sum = 0;
  for (const m of members) sum += await scrapeMetric(m.ports.http, 'sluice_cluster_partitions_owned');
  return sum;
}

/** The partitions whose holder differs between two observations. */
function moved(before: (string | undefined)[], after: (string | undefined)[]): number[] {
  return before.flatMap((h, p) => (h !== after[p] ? [p] : []));
}

it('SIGTERM of a processor: its partitions are handed over, not left to expire and taken over; verify exact', { timeout: 240_000 }, async () => {
  const cluster = await startSluiceCluster({ nats: 'cluster', gateways: 2, processors: [null, null, null], fleetKey: FLEET_KEY, database: 'heal_term', time: TIME, cluster: CLUSTER, cleanups });
  await until('all partitions held by the three processors', () => allHeldBy(cluster, 3));
  const running = simulate(cluster, 'term', ['--duration', '14s', '--seed', '33']);
  const leaving = cluster.processors[2]!;
  await underLoad(leaving);
  const staying = cluster.processors.slice(0, 2);
  const takenBefore = await takenOver(staying);
  const leavingHeld = (await holders(cluster)).filter((h) => h === memberIdOf(leaving)).length;
  const started = Date.now();
  leaving.process.child.kill('SIGTERM');
  expect(await leaving.process.exited).toBe(0);
  const moved = await until('every partition owned by the two left', () => allHeldBy(cluster, 2), 60_000);
  await until('the others to take the partitions on', async () => (await partitionsOwned(staying)) === PARTITIONS);
  const failovers = (await takenOver(staying)) - takenBefore;
  console.log(`SIGTERM: ${leavingHeld} partitions handed over and owned ${Date.now() - started} ms after the signal (${moved} ms after exit); ${failovers} of them taken over as failovers (a release that timed out)`);
  // Released, not left to expire: a release may time out on a starved machine, but a SIGTERM
  // that released nothing would leave every one of them to be taken over.
  expect(failovers).toBeLessThan(leavingHeld);
  const { stdout } = await running;
  expect(stdout).toMatch(/^verify: exact \([\d,]+ points\)$/m);
});

it('SIGSTOP of a processor past its leases while it retries an InfluxDB write, then SIGCONT: it writes nothing for the partitions it lost, the retry included; verify exact', { timeout: 240_000 }, async () => {
  const cluster = await startSluiceCluster({ nats: 'cluster', gateways: 2, processors: [null, null, null], fleetKey: FLEET_KEY, database: 'heal_stop', time: TIME, cluster: CLUSTER, cleanups });
  await until('all partitions held by the three processors', () => allHeldBy(cluster, 3));
  const running = simulate(cluster, 'stop', ['--duration', '18s', '--seed', '34']);
  const frozen = cluster.processors[1]!;
  await underLoad(frozen);
  const requestsBefore = await sinkRequests(frozen);
  // influxd down first, so the processor is frozen with points buffered and a write waiting
  // out its backoff: woken, that retry is due at once, before its lease renewal has said
  // which partitions it lost. (With nothing pending at the stop, this test passed even
  // without the write gate.)
  const retriesBefore = await frozen.metric('sluice_processor_sink_retries_total');
  await cluster.influx.stop();
  await until('the processor to retry an InfluxDB write', async () => (await frozen.metric('sluice_processor_sink_retries_total')) > retriesBefore);
  frozen.process.child.kill('SIGSTOP');
  // Date.now() is whole milliseconds: a request the frozen process sends before the signal
  // takes effect (microseconds) is stamped no later than this.
  const stoppedAt = Date.now() / 1000;
  await cluster.influx.start();
  await until('the others to own every partition', () => allHeldBy(cluster, 2), 30_000);
  frozen.process.child.kill('SIGCONT');
  // Woken past its leases, its first renewal finds them taken: it lets every partition go
  // without writing for them (its gate holds any flush until then; what it buffered is discarded).
  await until('the frozen processor to find its leases lost', async () => (await frozen.metric('sluice_cluster_leases_lost_total')) > 0);
  const requestsAtLoss = await sinkRequests(frozen);
  const lastSent = await frozen.metric('sluice_processor_sink_last_request_start_timestamp_seconds');
  const lost = await frozen.metric('sluice_cluster_leases_lost_total');
  const held = await frozen.metric('sluice_processor_sink_gate_waits_total');
  const discarded = await frozen.metric('sluice_processor_points_discarded_total');
  console.log(`SIGSTOP/SIGCONT: ${lost} leases lost, ${held} flushes held by the write gate, ${discarded} points discarded unwritten; InfluxDB requests ${requestsBefore} answered before the stop, ${requestsAtLoss} when the loss was seen, the last sent ${(lastSent - stoppedAt).toFixed(3)} s after the stop`);
  expect(lost).toBeGreaterThan(0);
  // None sent after waking. One sent before the stop may be answered after it (counted then):
  // comparing answered requests failed CI once (5 vs 4) for that reason.
  expect(lastSent).toBeGreaterThan(0);
  expect(lastSent).toBeLessThanOrEqual(stoppedAt);
  const { stdout } = await running;
  expect(stdout).toMatch(/^verify: exact \([\d,]+ points\)$/m);
});

/** InfluxDB write requests a processor has made (its sink's request histogram count). */
async function sinkRequests(m: ClusterMember): Promise<number> {
  return m.metric('sluice_processor_sink_write_seconds_count');
}

it('kill -9 of a gateway, then of the NATS server leading the leases bucket, under load: devices reconnect to the other gateway, no partition moves, nothing PUBACKed is lost; verify exact', { timeout: 240_000 }, async () => {
  const cluster = await startSluiceCluster({ nats: 'cluster', gateways: 2, processors: [null, null, null], fleetKey: FLEET_KEY, database: 'heal_kv', time: TIME, cluster: CLUSTER, cleanups });
  await until('all partitions held by the three processors', () => allHeldBy(cluster, 3));
  const running = simulate(cluster, 'kv', ['--duration', '18s', '--seed', '35', '--inflight', '16']);
  const watched = cluster.processors[0]!;
  await underLoad(watched);
  const before = await holders(cluster);
  await cluster.gateways[0]!.kill();
  // The devices are back on the other gateway once messages flow again; then NATS loses a server.
  const processed = await scrapeMetric(watched.ports.http, 'sluice_processor_messages_total');
  await until('messages processed after the gateway kill', async () => (await scrapeMetric(watched.ports.http, 'sluice_processor_messages_total')) > processed + 100);
  const nc = await connect({ servers: cluster.nats.servers });
  let leader: string;
  try {
    leader = (await (await jetstreamManager(nc)).streams.info('KV_SLUICE_LEASES')).cluster!.leader!;
  } finally {
    await nc.close();
  }
  await cluster.nats.kill(cluster.nats.nodes.findIndex((n) => n.name === leader));
  const { stdout, report } = await running;
  expect(await holders(cluster)).toEqual(before);
  expect(report.connections.reconnects).toBeGreaterThan(0);
  expect(report.acknowledged).toBe(report.sent.messages + report.sent.duplicates);
  expect(stdout).toMatch(/^verify: exact \([\d,]+ points\)$/m);
});
