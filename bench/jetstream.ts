/**
 * `npm run bench:jetstream`: the comparison of the embedded mode with
 * distributed mode on NATS JetStream, under the same load on this machine. For each of
 * embedded (`sluice start`, FileLog), JetStream R1 (one nats-server) and JetStream R3 (a
 * 3-node cluster), each with one gateway and one processor: `sluice simulate` with
 * 100-reading Series ramps the offered rate (BENCH_RATES) until a step fails, then runs
 * once more with --verify at the highest rate sustained. Prints a Markdown table and
 * writes bench/results/jetstream-<time>.json. Starts its own influxd and nats-servers in
 * temp dirs and stops every process it started, also on failure or Ctrl-C. Not a test.
 */
import { fileURLToPath } from 'node:url';
import { startInfluxd, type TestInfluxd } from '../test/harness/influxdb.js';
import { tempDir } from '../test/harness/temp-dir.js';
import { benchOptionsFromEnv } from './jetstream/options.js';
import { jetStreamMarkdown, JETSTREAM_BENCH_REPORT_VERSION, writeJetStreamReport, type JetStreamBenchReport } from './jetstream/report.js';
import { runSetup, type SetupResult } from './jetstream/run-setup.js';
import { machineInfo } from './ramp/machine.js';

/** bench/results in the source tree (this file runs from dist/bench/). */
const RESULTS_DIR = fileURLToPath(new URL('../../bench/results/', import.meta.url));

async function main(): Promise<void> {
  const options = benchOptionsFromEnv();
  const startedAt = new Date().toISOString();
  const work = await tempDir('sluice-bench-jetstream-');
  let influx: TestInfluxd | undefined;
  // Ctrl-C: the finally below stops what runs; sluice children and nats-servers are also killed on exit.
  const onSignal = (): void => void cleanup().finally(() => process.exit(130));
  const cleanup = async (): Promise<void> => {
    await influx?.destroy();
    await work.remove();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const setups: SetupResult[] = [];
  try {
    influx = await startInfluxd();
    for (const name of options.setups) {
      console.log(`${name}: starting`);
      const result = await runSetup(name, influx.url, options, work.path, (line) => console.log(line));
      if (result.error !== undefined) console.error(`${name} failed: ${result.error}`);
      setups.push(result);
    }
  } finally {
    await cleanup();
  }
  const report: JetStreamBenchReport = { version: JETSTREAM_BENCH_REPORT_VERSION, startedAt, finishedAt: new Date().toISOString(), machine: machineInfo(), options, setups };
  console.log(`\n${jetStreamMarkdown(report)}\n`);
  console.log(`written: ${await writeJetStreamReport(report, RESULTS_DIR)}`);
  if (setups.some((s) => s.error !== undefined || s.verify?.verify?.exact !== true)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
