import type { Command } from 'commander';
import { benchOptionsSchema, runBench, shortNumber, writeBenchReport, type BenchOptionsInput, type ScenarioName } from '../../bench/ramp/index.js';
import { ConfigError } from '../../core/index.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './common.js';

interface BenchFlags extends ConfigFlags {
  scenario: string;
  stepDuration: string;
  maxSteps: string;
  startRate?: string;
  devices: string;
  inflight: string;
  out: string;
  influxUrl?: string;
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
      .option('--scenario <name>', 'single (1 reading per message) | series (100-reading Series) | both', 'both')
      .option('--step-duration <d>', 'how long each step sends', '30s')
      .option('--max-steps <n>', 'steps per ramp', '12')
      .option('--start-rate <n>', 'first offered rate, readings/s (default: single 5000, series 200000)')
      .option('--devices <n>', 'simulated devices (connections)', '1000')
      .option('--inflight <n>', 'QoS 1 publishes in flight per device', '4')
      .option('--out <dir>', 'where the report files go', 'bench/results')
      .option('--influx-url <url>', 'run `sluice start` with processors writing to this InfluxDB (default: `sluice gateway` alone)'),
  )
    .addHelpText('after', '\nThe gateway always runs on free ports in a temp data dir (under --data-dir when given); --config and --set are passed on to it.')
    .action(async (flags: BenchFlags) => {
      // Fails early, with the key, on a bad --config or --set; the gateway process reads them again.
      await configFromFlags(flags);
      const scenarios: ScenarioName[] | undefined = flags.scenario === 'both' ? undefined : [flags.scenario as ScenarioName];
      const input: BenchOptionsInput = {
        scenarios,
        stepDuration: flags.stepDuration,
        maxSteps: num(flags.maxSteps),
        startRate: num(flags.startRate),
        devices: num(flags.devices),
        inflight: num(flags.inflight),
        out: flags.out,
        influxUrl: flags.influxUrl,
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
      const report = await runBench(options, {
        gateway: { configFile: flags.config, sets: flags.set, dataParent: flags.dataDir },
        starting: (scenario, broker) => say(`${scenario}: ramping ${broker}, steps of ${options.stepDuration / 1000} s`),
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
