import type { Command } from 'commander';
import {
  benchOptionsSchema,
  PROCESSOR_CHECKPOINT_INTERVAL,
  runBench,
  shortNumber,
  VERIFY_GATEWAY_SETTINGS,
  verifiedNote,
  writeBenchReport,
  type BenchVerifySetup,
  type BenchOptionsInput,
  type ScenarioName,
} from '../../bench/ramp/index.js';
import { describeLate, LOAD_BROKERS, LOAD_SCENARIOS, loadMarkdown, loadReport, runLoad, writeLoadReport, type LoadBroker, type LoadScenario } from '../../bench/load/index.js';
import { ConfigError, parseDuration } from '../../core/index.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './common.js';
import { windowsSettleMs } from './simulate-verify.js';

interface BenchFlags extends ConfigFlags {
  scenario: string;
  stepDuration: string;
  maxSteps: string;
  startRate?: string;
  devices: string;
  inflight: string;
  out: string;
  influxUrl?: string;
  verifyRate?: string;
  keepDatabases?: boolean;
  mode: string;
  connections: string;
  rounds: string;
  duration: string;
  warmup: string;
  rate?: string;
  brokers: string;
  cpuProfDir?: string;
  nodeArgs?: string;
}

const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
const say = (line: string): void => void process.stderr.write(`${line}\n`);

/** `sluice bench` (npm run bench): ramps the offered load to the highest sustained rate and writes a report. */
export function registerBenchCommand(program: Command): void {
  withConfigFlags(
    program
      .command('bench')
      .description(
        'ramp the offered load on a gateway in its own process (and on a bare aedes broker, for single readings) to the highest rate sustained with no loss, PUBACK p99 < 100 ms and bounded lag; write <out>/<timestamp>.json, .md and .svg',
      )
      .option('--scenario <name>', 'single (1 reading per message) | series (100-reading Series) | both; load mode also: fleet (5 metrics × 20 readings a message, event time moving on per message: use with --connections 10000)', 'both')
      .option('--step-duration <d>', 'how long each step sends', '30s')
      .option('--max-steps <n>', 'steps per ramp', '12')
      .option('--start-rate <n>', 'first offered rate, readings/s (default: single 5000, series 200000)')
      .option('--devices <n>', 'simulated devices (connections)', '1000')
      .option('--inflight <n>', 'QoS 1 publishes in flight per device (1–65535; default: ramp 4, load 16)')
      .option('--mode <mode>', 'ramp (offered load stepped up to the highest sustained rate) | load (closed-loop load with pre-encoded payloads against bare aedes, mosquitto when installed, sluice gateway and, with --influx-url, sluice start, in rotating rounds; medians and ratios)', 'ramp')
      .option('--connections <n>', 'load mode: connections (devices)', '50')
      .option('--rounds <n>', 'load mode: rounds of every broker', '3')
      .option('--duration <d>', 'load mode: how long each round measures', '10s')
      .option('--warmup <d>', 'load mode: load before each round measures (the first seconds after 50 connections open carry a backlog of up to ~1 s); sluice start\'s also lasts until each processor thread\'s first checkpoint', '8s')
      .option('--rate <n>', 'load mode: offer this many msgs/s in total, paced, at most --inflight in flight per connection (PUBACK latency counted from when each publish was due), instead of the closed loop')
      .option('--cpu-prof-dir <dir>', 'load mode: run the sluice processes under node --cpu-prof and write their profiles (one per thread) here')
      .option('--node-args <flags>', 'load mode: more node flags for the sluice processes, space-separated, after their own (e.g. "--trace-gc" or "--max-semi-space-size=64"), so a profiling or GC run can be repeated as it was made')
      .option('--brokers <list>', `load mode: which brokers run, comma-separated (${LOAD_BROKERS.join(', ')})`, LOAD_BROKERS.join(','))
      .option('--out <dir>', 'where the report files go', 'bench/results')
      .option(
        '--influx-url <url>',
        'run `sluice start` with processors writing to this InfluxDB (a fresh database sluice_bench_<time> for InfluxDB 1.x), and after the series ramp run a verify step at its highest passing rate and compare InfluxDB with the expected window aggregates (default: `sluice gateway` alone, not verified)',
      )
      .option('--keep-databases', 'load mode with --influx-url: keep each round\'s database (sluice_load_<time>_r<round>_<scenario>) after its verify; by default it is dropped, so earlier rounds\' series and compactions do not weigh on later ones')
      .option('--verify-rate <n>', 'with --scenario series and --influx-url: skip the ramp, run only the verify step at this rate, readings/s'),
  )
    .addHelpText(
      'after',
      `\nThe gateway always runs on free ports in a temp data dir (under --data-dir when given); --config and --set are passed on to it. With --influx-url the bench also sets ${VERIFY_GATEWAY_SETTINGS.join(', ')} and, in ramp mode, checkpoint.interval=${PROCESSOR_CHECKPOINT_INTERVAL}, so the verify step's last windows reach InfluxDB within seconds (the load mode keeps the config's checkpoint interval).`,
    )
    .action(async (flags: BenchFlags) => {
      // Fails early, with the key, on a bad --config or --set; the gateway process reads them again.
      const loaded = await configFromFlags(flags);
      if (flags.mode === 'load') return loadMode(flags, loaded);
      if (flags.mode !== 'ramp') throw new ConfigError(`bench --mode: use ramp or load (got ${JSON.stringify(flags.mode)})`);
      const scenarios: ScenarioName[] | undefined = flags.scenario === 'both' ? undefined : [flags.scenario as ScenarioName];
      const input: BenchOptionsInput = {
        scenarios,
        stepDuration: flags.stepDuration,
        maxSteps: num(flags.maxSteps),
        startRate: num(flags.startRate),
        devices: num(flags.devices),
        inflight: num(flags.inflight ?? '4'),
        out: flags.out,
        influxUrl: flags.influxUrl,
        verifyRate: num(flags.verifyRate),
      };
      const parsed = benchOptionsSchema.safeParse(input);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const key = String(issue.path[0] ?? '');
        const flag = key === 'scenarios' ? 'scenario' : key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
        const value = key === 'scenarios' ? flags.scenario : (input as Record<string, unknown>)[key];
        throw new ConfigError(`bench --${flag}: ${issue.message} (got ${JSON.stringify(value)})`);
      }
      const options = parsed.data;
      const verify = options.influxUrl === undefined ? undefined : await verifySetup(flags, options.influxUrl);
      if (verify) say(`verify: the processors write to ${verify.setup.influx.url}, ${verify.setup.influx.version === 1 ? `database ${verify.setup.influx.database}` : `bucket ${verify.setup.influx.bucket}`}`);
      const report = await runBench(options, {
        gateway: { configFile: flags.config, sets: flags.set, extraSets: verify?.sets, dataParent: flags.dataDir },
        verify: verify?.setup,
        starting: (scenario, broker) => say(`${scenario}: ${broker === 'sluice' && options.verifyRate !== undefined ? 'starting' : 'ramping'} ${broker}, steps of ${options.stepDuration / 1000} s`),
        verifying: (scenario, rate) =>
          say(`${scenario} verify step: offered ${shortNumber(rate)} readings/s with the reference model (devices ${verify!.setup.devicePrefix}…), then verify waits up to ${Math.round(verify!.setup.waitMs / 1000)} s for the last windows`),
        verified: (scenario, v) =>
          say(
            `${scenario} verify step: offered ${shortNumber(v.offeredReadingsPerSecond)} → achieved ${shortNumber(v.achievedReadingsPerSecond)} readings/s, p99 ${v.step.latencyMs.p99.toFixed(1)} ms: step ${v.step.pass ? 'pass' : `fail (${v.step.failures.join('; ')})`}; ${verifiedNote(v)}, after ${(v.verifyMs / 1000).toFixed(1)} s`,
          ),
        step: (scenario, broker, s) =>
          say(
            `${scenario} ${broker} step ${s.step}${s.repeatOf === undefined ? '' : ` (repeats ${s.repeatOf})`}: offered ${shortNumber(s.offeredReadingsPerSecond)} → achieved ${shortNumber(s.achievedReadingsPerSecond)} readings/s, p99 ${s.latencyMs.p99.toFixed(1)} ms, cores: broker ${s.brokerCpuCores}, simulator ${s.simulatorCpuCores}, other ${s.otherCpuCores ?? '?'}: ${s.pass ? 'pass' : `fail (${s.failures.join('; ')})`}`,
          ),
      });
      const files = await writeBenchReport(report, options.out);
      for (const t of report.targets) {
        const measured = t.measured === null ? 'not measured' : t.scenario === 'single' ? `${t.measured}×` : `${shortNumber(t.measured)} readings/s`;
        process.stdout.write(`${t.scenario}: ${t.target}: ${measured}, ${t.met === null ? 'n/a' : t.met ? 'met' : 'not met'} (${t.note})\n`);
      }
      process.stdout.write(`written ${files.json}\n        ${files.markdown}\n        ${files.svg}\n`);
    });
}

/** InfluxDB 1.x database names: sluice_bench_20250101T120000123Z. */
function benchDatabase(now: Date): string {
  return `sluice_bench_${now.toISOString().replace(/[-:.]/g, '')}`;
}

/**
 * With --influx-url: the settings the bench adds to the gateway's (a fresh database per
 * run, short idle timeout and flush interval), and the gateway's windows and InfluxDB
 * settings loaded the way the gateway will load them, for the verify step.
 */
async function verifySetup(flags: BenchFlags, influxUrl: string): Promise<{ sets: string[]; setup: BenchVerifySetup }> {
  const now = new Date();
  const user = await configFromFlags({ ...flags, set: [...(flags.set ?? []), `influx.url=${influxUrl}`] });
  // 1.x: the processors create the database. 2.x writes to the configured bucket; the run's own device prefix keeps earlier runs' points out.
  const sets = [...(user.influx.version === 1 ? [`influx.database=${benchDatabase(now)}`] : []), ...VERIFY_GATEWAY_SETTINGS];
  const config = await configFromFlags({ ...flags, set: [...(flags.set ?? []), `influx.url=${influxUrl}`, `checkpoint.interval=${PROCESSOR_CHECKPOINT_INTERVAL}`, ...sets] });
  return {
    sets,
    setup: { windows: config.windows, influx: config.influx, waitMs: windowsSettleMs(config), devicePrefix: `bench-series-verify-${now.getTime().toString(36)}-` },
  };
}

/** `sluice bench --mode load`: rounds of closed-loop load on every broker, medians and ratios, verified end to end for `sluice start`. */
async function loadMode(flags: BenchFlags, config: Awaited<ReturnType<typeof configFromFlags>>): Promise<void> {
  const count = (flag: string, value: string, min: number): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new ConfigError(`bench --${flag}: use a whole number ≥ ${min} (got ${JSON.stringify(value)})`);
    return n;
  };
  const scenarios: LoadScenario[] = flags.scenario === 'both' ? ['single', 'series'] : flags.scenario in LOAD_SCENARIOS ? [flags.scenario as LoadScenario] : [];
  if (scenarios.length === 0) throw new ConfigError(`bench --scenario: use single, series, fleet or both (got ${JSON.stringify(flags.scenario)})`);
  const startedAt = new Date();
  let influx: { url: string; database: string; measurement: string; keep: boolean } | undefined;
  if (flags.influxUrl !== undefined) {
    const tumbling = config.windows.find((w) => w.type === 'tumbling');
    if (tumbling === undefined) throw new ConfigError('bench --mode load --influx-url: the verify step needs a tumbling window in windows (the default telemetry_10s is one)');
    influx = { url: flags.influxUrl, database: `sluice_load_${startedAt.toISOString().replace(/[-:.]/g, '')}`, measurement: tumbling.name, keep: flags.keepDatabases === true };
  }
  const brokers = flags.brokers.split(',').map((b) => b.trim());
  const unknown = brokers.find((b) => !(LOAD_BROKERS as readonly string[]).includes(b));
  if (unknown !== undefined) throw new ConfigError(`bench --brokers: no broker ${JSON.stringify(unknown)}; use some of ${LOAD_BROKERS.join(', ')}, comma-separated`);
  const options = {
    scenarios,
    brokers: brokers as LoadBroker[],
    connections: count('connections', flags.connections, 1),
    inflight: count('inflight', flags.inflight ?? '16', 1),
    rounds: count('rounds', flags.rounds, 1),
    durationMs: flagDuration('duration', flags.duration),
    warmupMs: flagDuration('warmup', flags.warmup),
    // One first checkpoint per processor thread (each thread checkpoints its own partitions),
    // due one interval after the processors start: a minute's margin past that.
    firstCheckpoints: { count: Math.min(config.processors.threads, config.partitions), withinMs: config.checkpoint.interval + 60_000 },
    ...(flags.rate === undefined ? {} : { rateMsgsPerSecond: count('rate', flags.rate, 1) }),
    influx,
    sluice: { configFile: flags.config, sets: flags.set, dataParent: flags.dataDir, cpuProfDir: flags.cpuProfDir, nodeArgs: nodeArgsOf(flags.nodeArgs) },
    verifyStallMs: 30_000,
  };
  say(`load: ${options.connections} connections × ${options.inflight} in flight${flags.rate === undefined ? '' : `, paced at ${flags.rate} msgs/s`}, ${options.rounds} rounds × ${flags.duration}${influx ? `; sluice start writes to ${influx.url}, databases ${influx.database}_r<round>_<scenario>${influx.keep ? '' : ', each dropped after its verify'}` : ''}`);
  const runs = await runLoad(options, {
    skipped: (broker, why) => say(`load: ${broker} skipped: ${why}`),
    round: (r) =>
      say(
        `load ${r.scenario} round ${r.round} ${r.broker}: ${r.offered ? `offered ${shortNumber(r.offered.msgsPerSecond)} → ` : ''}${shortNumber(r.msgsPerSecond)} msgs/s,${r.offered?.shed ? ` ${r.offered.shed} shed,` : ''} ${shortNumber(r.readingsPerSecond)} readings/s, ${r.brokerCpuSecondsPerMillionMessages} CPU s per M msgs (main thread ${r.mainThreadCpuSecondsPerMillionMessages})${r.influxdCpuSecondsPerMillionMessages === undefined ? '' : `, influxd ${r.influxdCpuSecondsPerMillionMessages}`}, generator ${r.loadCpuSecondsPerMillionMessages}, machine busy ${r.machineBusyCores} cores${r.processorLagRecords === undefined ? '' : `, processor lag ${r.processorLagRecords.start} → ${r.processorLagRecords.end} records`}, PUBACK p99 ${r.pubackMs.p99.toFixed(1)} ms (${describeLate(r.late)})${r.generatorLagMs ? `, generator late p99 ${r.generatorLagMs.p99.toFixed(1)} ms (max ${r.generatorLagMs.max.toFixed(1)})` : ''}, RSS ${r.brokerRssMiB} MiB; warm-up ${(r.warmupMs / 1000).toFixed(1)} s, ${r.warmupLate.late.toLocaleString('en-US')} later than ${r.warmupLate.lateMs} ms${r.verify ? `; verify ${r.verify.exact ? 'exact' : `NOT exact: ${r.verify.foundReadings} of ${r.verify.expectedReadings} readings counted`}` : ''}`,
      ),
  });
  const report = loadReport(options, runs, startedAt);
  const files = await writeLoadReport(report, flags.out);
  process.stdout.write(`${loadMarkdown(report)}\nwritten ${files.json}\n        ${files.markdown}\n`);
}

/**
 * --node-args split on spaces. Each must be a flag (`--x` or `--x=value`): a bare word would
 * be taken by node for the script to run instead of Sluice.
 */
function nodeArgsOf(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const args = value.split(/\s+/).filter((a) => a !== '');
  const bare = args.find((a) => !a.startsWith('-'));
  if (bare !== undefined) throw new ConfigError(`bench --node-args: ${JSON.stringify(bare)} is not a node flag; give flags with their values joined by =, space-separated (e.g. "--trace-gc --require=./hook.cjs")`);
  return args;
}

function flagDuration(flag: string, value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new ConfigError(`bench --${flag}: ${(err as Error).message}`);
  }
}
