import { ReferenceModel, type ExpectedWindow } from '../../simulator/expected/index.js';
import { runVerify, type VerifyInfluxConfig } from '../../simulator/verify/index.js';
import type { BrokerProcess } from './broker-process.js';
import type { BenchOptions, Scenario } from './options.js';
import { runStepWith, type StepResult } from './step.js';

/** How often verify reads InfluxDB again while the last windows are still on their way. */
const VERIFY_INTERVAL_MS = 2000;

/** What the verify step needs to know of the gateway's config (loaded as the gateway loads it). */
export interface BenchVerifySetup {
  /** The gateway's windows: the reference model computes the same ones. */
  windows: readonly ExpectedWindow[];
  /** Where the processors write (url, database, …): verify reads there. */
  influx: VerifyInfluxConfig;
  /** The longest wait after the step for the last windows to close and reach InfluxDB. */
  waitMs: number;
  /** The verify step's devices are this prefix plus a number (distinct from the ramp's). */
  devicePrefix: string;
}

/** Point counts over every window measurement, as `sluice verify` prints them. */
export interface VerifyPointCounts {
  expected: number;
  found: number;
  missing: number;
  extra: number;
  mismatched: number;
}

/** The verify step: one more step with the real reference model, then `sluice verify` against InfluxDB. */
export interface VerifyStepResult {
  /** Where the offered rate came from: the ramp's highest passing step, or --verify-rate. */
  rateFrom: 'ramp' | 'verify-rate';
  offeredReadingsPerSecond: number;
  achievedReadingsPerSecond: number;
  /** The step as the ramp's steps are measured and judged. */
  step: StepResult;
  devicePrefix: string;
  /** Where verify read, e.g. "InfluxDB http://127.0.0.1:8086, database sluice_bench_…". */
  source: string;
  /** The window measurements compared. */
  windows: string[];
  /** Readings the expected points aggregate (what the gateway accepted). */
  readings: number;
  points: VerifyPointCounts;
  /** Every expected point stored with the expected fields, nothing extra. */
  exact: boolean;
  /** From the step's end (processors caught up) to the verdict: the windows closing, reaching InfluxDB and being compared. */
  verifyMs: number;
  /** The wait bound verify was given. */
  waitMs: number;
  /** verify's output (its last line starts "verify: exact" or "verify: NOT exact"). */
  text: string;
  /** The step or verify failed outright (the simulator threw, InfluxDB did not answer, …). */
  error?: string;
}

const NO_POINTS: VerifyPointCounts = { expected: 0, found: 0, missing: 0, extra: 0, mismatched: 0 };

/**
 * Runs the verify step against `broker` (the gateway with processors): the simulator at
 * `rate` readings/s with a ReferenceModel of the gateway's windows, then waits for the
 * windows to close and compares InfluxDB with the expected points.
 */
export async function runVerifyStep(
  broker: BrokerProcess,
  scenario: Scenario,
  options: BenchOptions,
  setup: BenchVerifySetup,
  step: number,
  rate: number,
  rateFrom: VerifyStepResult['rateFrom'],
): Promise<VerifyStepResult> {
  const model = new ReferenceModel(setup.windows, { devicePrefix: setup.devicePrefix });
  const { result, simulation } = await runStepWith(broker, scenario, options, step, rate, { devicePrefix: setup.devicePrefix, expected: model });
  const base: VerifyStepResult = {
    rateFrom,
    offeredReadingsPerSecond: rate,
    achievedReadingsPerSecond: result.achievedReadingsPerSecond,
    step: result,
    devicePrefix: setup.devicePrefix,
    source: '',
    windows: setup.windows.map((w) => w.name),
    readings: 0,
    points: { ...NO_POINTS },
    exact: false,
    verifyMs: 0,
    waitMs: setup.waitMs,
    text: '',
  };
  if (!simulation) return { ...base, error: result.error ?? 'the simulator did not report' };
  const started = performance.now();
  try {
    const { result: verified, text } = await runVerify(simulation, setup.influx, { waitMs: setup.waitMs, intervalMs: VERIFY_INTERVAL_MS });
    const { expected, found, missing, extra, mismatched } = verified.total;
    return {
      ...base,
      source: verified.source,
      readings: verified.readings,
      points: { expected, found, missing, extra, mismatched },
      exact: verified.exact,
      verifyMs: Math.round(performance.now() - started),
      text,
    };
  } catch (err) {
    return { ...base, readings: simulation.expected.readings, verifyMs: Math.round(performance.now() - started), error: `verify: ${(err as Error).message}` };
  }
}
