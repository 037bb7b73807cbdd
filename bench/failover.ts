/**
 * `npm run bench:failover` (issue 14): how long distributed mode takes to heal, on real
 * processes under a steady simulated load. A 3-node nats-server cluster (stream R3), two
 * gateways, three processors sharing the 64 partitions by lease, InfluxDB. Kill runs:
 * kill -9 of one processor, timed to every partition held by a live member and to the
 * lag back at its level; a replacement then rebalances the cluster. Join runs: a 4th
 * processor, timed to holding its 16 partitions and to the lag back at its level; it then
 * leaves by SIGTERM. Prints min / p50 / p90 / max per measure and writes
 * bench/results/failover-<time>.json. Stops every process it started, also on failure or
 * Ctrl-C. Not a test; knobs in bench/failover/options.ts.
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startFailoverCluster, type FailoverCluster } from './failover/cluster.js';
import { startSteadyLoad, type SteadyLoad } from './failover/load.js';
import { LeaseView } from './failover/observe.js';
import { failoverOptionsFromEnv } from './failover/options.js';
import { ANCHORS, FAILOVER_BENCH_REPORT_VERSION, failoverMarkdown, summaries, writeFailoverReport, type FailoverBenchReport } from './failover/report.js';
import { joinRun, killRun, type JoinRun, type KillRun, type RunContext } from './failover/runs.js';
import { machineInfo } from './ramp/machine.js';

/** bench/results in the source tree (this file runs from dist/bench/). */
const RESULTS_DIR = fileURLToPath(new URL('../../bench/results/', import.meta.url));
/** Load before the first run: JIT, stream and buckets warm, every processor busy. */
const WARM_UP_MS = 5000;

const sec = (ms: number): string => (ms / 1000).toFixed(2);

async function main(): Promise<void> {
  const options = failoverOptionsFromEnv();
  const startedAt = new Date().toISOString();
  const loadAtStart = loadavg()[0]!;
  let cluster: FailoverCluster | undefined;
  let load: SteadyLoad | undefined;
  let view: LeaseView | undefined;
  const cleanup = async (): Promise<void> => {
    await load?.stop();
    await view?.close().catch(() => undefined);
    await cluster?.stop();
  };
  // Ctrl-C: take everything down before exiting; the children are also SIGKILLed on exit.
  const onSignal = (): void => void cleanup().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const kills: KillRun[] = [];
  const joins: JoinRun[] = [];
  let error: string | undefined;
  try {
    console.log('starting: 3 nats-servers, influxd, 3 processors, 2 gateways');
    cluster = await startFailoverCluster(options);
    view = await LeaseView.open(cluster.natsServers);
    load = startSteadyLoad({ configFile: cluster.configFile, urls: cluster.urls, devices: options.devices, rate: options.rate });
    await new Promise((resolve) => setTimeout(resolve, WARM_UP_MS));
    const ctx: RunContext = { cluster, view, load, options };
    for (let i = 0; i < options.killRuns; i++) {
      const r = await killRun(ctx, i);
      kills.push(r);
      console.log(`kill ${r.run}/${options.killRuns} (${r.victim}): owned ${sec(r.ownedMs)} s, lag back ${sec(r.lagMs)} s (level ${r.lagLevelRecords}, peak ${r.peakLagRecords} records); replacement balanced ${sec(r.replacementBalancedMs)} s`);
    }
    for (let i = 0; i < options.joinRuns; i++) {
      const r = await joinRun(ctx, i);
      joins.push(r);
      console.log(`join ${r.run}/${options.joinRuns} (${r.member}): ready ${sec(r.readyMs)} s, share held ${sec(r.shareMs)} s, lag back ${sec(r.lagMs)} s (level ${r.lagLevelRecords}, peak ${r.peakLagRecords} records); SIGTERM → balanced ${sec(r.leaveBalancedMs)} s`);
    }
  } catch (err) {
    error = `${(err as Error).message}\n${cluster?.output() ?? ''}`;
    console.error(`bench failed: ${error}`);
  } finally {
    await cleanup();
  }
  const report: FailoverBenchReport = {
    version: FAILOVER_BENCH_REPORT_VERSION,
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: machineInfo(),
    loadAverage: { start: Number(loadAtStart.toFixed(1)), end: Number(loadavg()[0]!.toFixed(1)) },
    options,
    kills,
    joins,
    summary: summaries(kills, joins),
    anchors: ANCHORS,
    meanHoldersReadMs: view?.meanReadMs ?? 0,
    ...(error === undefined ? {} : { error }),
  };
  console.log(`\n${failoverMarkdown(report)}\n`);
  console.log(`written: ${await writeFailoverReport(report, RESULTS_DIR)}`);
  if (error !== undefined) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
