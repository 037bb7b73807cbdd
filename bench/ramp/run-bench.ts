import { startBareAedes, startSluiceProcess, type BrokerProcess, type SluiceProcessOptions } from './broker-process.js';
import { machineInfo, type MachineInfo } from './machine.js';
import { PASS_CRITERIA, SCENARIOS, TARGETS, type BenchOptions, type ScenarioName } from './options.js';
import { runRamp, settle, type RampResult } from './ramp.js';
import { warmUp, type StepResult } from './step.js';
import { runVerifyStep, type BenchVerifySetup, type VerifyStepResult } from './verify-step.js';

export const BENCH_REPORT_VERSION = 1;

/** One scenario's ramps: bare aedes (when compared) and the gateway. */
export interface ScenarioResult {
  name: ScenarioName;
  title: string;
  readingsPerMessage: number;
  shape: string;
  metricsPerDevice: number;
  runs: RampResult[];
  /**
   * Series with --influx-url: one more step on the gateway at the ramp's highest passing
   * rate (or --verify-rate), with the reference model, then verify against InfluxDB.
   */
  verify?: VerifyStepResult;
  /** Series with --influx-url: why there is no verify step (no ramp step passed, the gateway exited). */
  verifySkipped?: string;
}

/** One of the issue's targets, measured. */
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
  /**
   * With --influx-url: the gateway's windows and InfluxDB settings (loaded from the same
   * config as the gateway), for the series verify step. Without it no verify step runs.
   */
  verify?: BenchVerifySetup;
  /** Hears when the verify step starts, at `rate` readings/s. */
  verifying?: (scenario: ScenarioName, rate: number) => void;
  /** Hears the verify step's outcome. */
  verified?: (scenario: ScenarioName, v: VerifyStepResult) => void;
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
      const verifies = name === 'series' && options.influxUrl !== undefined && hooks.verify !== undefined;
      let verify: VerifyStepResult | undefined;
      let verifySkipped: string | undefined;
      for (const start of starters) {
        running = await start();
        const broker = running;
        hooks.starting?.(name, broker.kind);
        try {
          // --verify-rate: no ramp, a warm-up and the verify step alone.
          const ramp = verifies && options.verifyRate !== undefined ? undefined : await runRamp(broker, scenario, options, (s) => hooks.step?.(name, broker.kind, s));
          if (ramp) runs.push(ramp);
          if (verifies && broker.kind === 'sluice') {
            const rate = options.verifyRate ?? ramp?.best?.offeredReadingsPerSecond;
            const pause = Math.min(options.settle, options.stepDuration / 2);
            if (rate === undefined) verifySkipped = 'no step of the ramp passed: no sustained rate to verify at';
            else if (broker.exitCode() !== null) verifySkipped = 'the gateway exited during the ramp';
            else {
              if (ramp) await settle(broker, pause);
              else {
                await warmUp(broker, scenario, options, rate).catch(() => undefined);
                await settle(broker, pause);
              }
              hooks.verifying?.(name, rate);
              verify = await runVerifyStep(broker, scenario, options, hooks.verify!, (ramp?.steps.length ?? 0) + 1, rate, ramp ? 'ramp' : 'verify-rate');
              hooks.verified?.(name, verify);
            }
          }
        } finally {
          await broker.stop();
          running = undefined;
        }
      }
      scenarios.push({ name, title: scenario.title, readingsPerMessage: scenario.batch, shape: scenario.shape, metricsPerDevice: scenario.metrics, runs, verify, verifySkipped });
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const steps = scenarios.flatMap((s) => [...s.runs.flatMap((r) => r.steps), ...(s.verify ? [s.verify.step] : [])]);
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

/** The issue's targets against this run's figures. */
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
    const threshold = TARGETS.seriesReadingsPerSecond;
    const target = `100-reading Series batches: ≥ ${fmt(threshold)} readings/s end to end with verify exact`;
    const v = series.verify;
    if (v) {
      const verified = verifiedNote(v);
      // The rate is the verify step's own: the one InfluxDB was checked at.
      const met = v.exact && v.points.expected > 0 && v.step.pass && v.achievedReadingsPerSecond >= threshold;
      result.push({
        scenario: 'series',
        target,
        measured: v.achievedReadingsPerSecond,
        threshold,
        met,
        note: `${sluice ? `ramp: ${bestNote(sluice)}; ` : ''}verify step (${v.rateFrom === 'ramp' ? "at the ramp's highest passing offered rate" : 'at --verify-rate'}) ${fmt(v.offeredReadingsPerSecond)} offered → ${fmt(v.achievedReadingsPerSecond)} readings/s, step ${v.step.pass ? 'passed' : `failed (${v.step.failures.join('; ')})`}; ${verified}`,
      });
    } else {
      const best = sluice?.best?.achievedReadingsPerSecond ?? null;
      const why =
        options.influxUrl === undefined
          ? 'not verified (run with --influx-url): gateway to durable log only, no processors, no InfluxDB; the bench checked every reading is acknowledged and in the log'
          : `not verified: ${series.verifySkipped ?? 'no verify step ran'}`;
      result.push({
        scenario: 'series',
        target,
        measured: best,
        threshold,
        // Unverified, the target is not met; a rate below it is not met either way.
        met: best === null || best < threshold ? false : null,
        note: `${bestNote(sluice)}; ${why}`,
      });
    }
  }
  return result;
}

/** "verify exact: 1,234 of 1,234 points (…)" or what differed. */
export function verifiedNote(v: VerifyStepResult): string {
  if (v.error !== undefined) return `verify did not finish: ${v.error}`;
  const p = v.points;
  const counts = `${fmt(p.found)} of ${fmt(p.expected)} expected points found, ${fmt(p.missing)} missing, ${fmt(p.extra)} extra, ${fmt(p.mismatched)} mismatched (${fmt(v.readings)} readings, ${v.source})`;
  return `${v.exact ? (p.expected > 0 ? 'verify exact' : 'verify exact but no points expected') : 'verify NOT exact'}: ${counts}`;
}
