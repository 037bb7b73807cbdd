import { startBareAedes, startSluiceProcess, type BrokerProcess, type SluiceProcessOptions } from './broker-process.js';
import { machineInfo, type MachineInfo } from './machine.js';
import { PASS_CRITERIA, SCENARIOS, TARGETS, type BenchOptions, type ScenarioName } from './options.js';
import { runRamp, type RampResult } from './ramp.js';
import type { StepResult } from './step.js';

export const BENCH_REPORT_VERSION = 1;

/** One scenario's ramps: bare aedes (when compared) and the gateway. */
export interface ScenarioResult {
  name: ScenarioName;
  title: string;
  readingsPerMessage: number;
  shape: string;
  metricsPerDevice: number;
  runs: RampResult[];
}

/** One of the targets, measured. */
export interface TargetResult {
  scenario: ScenarioName;
  target: string;
  /** The figure the target is about (a ratio or readings/s); null when it could not be measured. */
  measured: number | null;
  threshold: number;
  /** null: not measured in this run. */
  met: boolean | null;
  note: string;
}

/** What `sluice bench` writes as JSON (and renders as Markdown and SVG). */
export interface BenchReport {
  version: typeof BENCH_REPORT_VERSION;
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  options: Omit<BenchOptions, 'out'>;
  criteria: typeof PASS_CRITERIA;
  scenarios: ScenarioResult[];
  targets: TargetResult[];
  /** What else ran on the machine during the steps (Linux), in cores. */
  noise: { otherCpuCoresMean: number | null; otherCpuCoresMax: number | null; loadAverageMax: number };
}

export interface BenchHooks {
  /** The user's --config and --set, passed on to the gateway process. */
  gateway: Omit<SluiceProcessOptions, 'influxUrl'>;
  /** Hears each step as it ends. */
  step?: (scenario: ScenarioName, broker: BrokerProcess['kind'], s: StepResult) => void;
  /** Hears when a broker starts. */
  starting?: (scenario: ScenarioName, broker: BrokerProcess['kind']) => void;
}

/**
 * Runs the bench: per scenario, a bare aedes ramp (single-reading only) and a gateway
 * ramp, each broker in its own process started fresh for the scenario. A signal stops
 * the broker that is running and exits.
 */
export async function runBench(options: BenchOptions, hooks: BenchHooks): Promise<BenchReport> {
  const startedAt = new Date().toISOString();
  let running: BrokerProcess | undefined;
  const onSignal = (): void => {
    void (running?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const scenarios: ScenarioResult[] = [];
  try {
    for (const name of options.scenarios) {
      const scenario = SCENARIOS[name];
      const runs: RampResult[] = [];
      const starters: (() => Promise<BrokerProcess>)[] = [];
      if (scenario.compareBare) starters.push(startBareAedes);
      starters.push(() => startSluiceProcess({ ...hooks.gateway, influxUrl: options.influxUrl }));
      for (const start of starters) {
        running = await start();
        const broker = running;
        hooks.starting?.(name, broker.kind);
        try {
          runs.push(await runRamp(broker, scenario, options, (s) => hooks.step?.(name, broker.kind, s)));
        } finally {
          await broker.stop();
          running = undefined;
        }
      }
      scenarios.push({ name, title: scenario.title, readingsPerMessage: scenario.batch, shape: scenario.shape, metricsPerDevice: scenario.metrics, runs });
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const steps = scenarios.flatMap((s) => s.runs.flatMap((r) => r.steps));
  const other = steps.map((s) => s.otherCpuCores).filter((c): c is number => c !== undefined);
  const { out: _out, ...shown } = options;
  return {
    version: BENCH_REPORT_VERSION,
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: machineInfo(),
    options: shown,
    criteria: PASS_CRITERIA,
    scenarios,
    targets: targets(scenarios, options),
    noise: {
      otherCpuCoresMean: other.length ? Number((other.reduce((a, b) => a + b, 0) / other.length).toFixed(2)) : null,
      otherCpuCoresMax: other.length ? Math.max(...other) : null,
      loadAverageMax: Math.max(0, ...steps.map((s) => s.loadAverage)),
    },
  };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en');

/** A ramp's best as a lower bound when it never failed: the broker may do more. */
function bestNote(run: RampResult | undefined): string {
  if (!run?.best) return `${run?.broker ?? 'broker'}: no step passed`;
  const bound = run.lowestFailingRate === undefined ? ' (never failed: a lower bound)' : '';
  return `${run.broker} ${fmt(run.best.achievedReadingsPerSecond)} readings/s${bound}`;
}

/** The targets against this run's figures. */
export function targets(scenarios: ScenarioResult[], options: Pick<BenchOptions, 'influxUrl'>): TargetResult[] {
  const result: TargetResult[] = [];
  const single = scenarios.find((s) => s.name === 'single');
  if (single) {
    const sluice = single.runs.find((r) => r.broker === 'sluice');
    const bare = single.runs.find((r) => r.broker === 'bare-aedes');
    const ratio = sluice?.best && bare?.best ? sluice.best.achievedReadingsPerSecond / bare.best.achievedReadingsPerSecond : null;
    result.push({
      scenario: 'single',
      target: `QoS 1 single-reading: highest sustained rate ≥ ${TARGETS.singleVsBare} × bare aedes in the same run`,
      measured: ratio === null ? null : Number(ratio.toFixed(3)),
      threshold: TARGETS.singleVsBare,
      met: ratio === null ? (sluice?.best ? null : false) : ratio >= TARGETS.singleVsBare,
      note: `${bestNote(sluice)}; ${bestNote(bare)}`,
    });
  }
  const series = scenarios.find((s) => s.name === 'series');
  if (series) {
    const sluice = series.runs.find((r) => r.broker === 'sluice');
    const best = sluice?.best?.achievedReadingsPerSecond ?? null;
    result.push({
      scenario: 'series',
      target: `100-reading Series batches: ≥ ${fmt(TARGETS.seriesReadingsPerSecond)} readings/s end to end with verify exact`,
      measured: best,
      threshold: TARGETS.seriesReadingsPerSecond,
      met: best === null ? false : best >= TARGETS.seriesReadingsPerSecond,
      note: `${bestNote(sluice)}; ${
        options.influxUrl === undefined ? 'gateway to durable log only (no --influx-url: no processors, no InfluxDB)' : 'gateway and processors writing to InfluxDB'
      }; the bench checks every reading is acknowledged and in the log, it does not run \`sluice verify\` against InfluxDB`,
    });
  }
  return result;
}
