/**
 * One step of the bench: `sluice simulate` at one offered rate against a running
 * set-up, then a wait until the processors have read everything the gateway accepted.
 * CPU is counted over that whole span (spawn of the simulator to caught up), so the
 * processors' share of the step's work is in it; the set-up's idle cost (NATS
 * heartbeats, pollers) is in it too, as it would be in production.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { catchUpLimitMs } from '../ramp/step.js';
import { PASS_CRITERIA } from '../ramp/options.js';
import { cpuSnapshot, PeakRss } from '../proc-usage.js';
import type { RunningSetup } from './setups.js';
import { runSimulate } from './simulate-run.js';

/** Readings per message: 100-reading Series, as the issue asks. */
export const READINGS_PER_MESSAGE = 100;

/** The figures of one step. */
export interface StepResult {
  step: number;
  kind: 'warm-up' | 'ramp' | 'verify';
  offeredReadingsPerSecond: number;
  /** Acknowledged readings over the simulator's send start → last PUBACK. */
  achievedReadingsPerSecond: number;
  sent: { messages: number; readings: number };
  acknowledged: number;
  /** Publishes sent and never acknowledged. */
  lost: number;
  /** Publish → PUBACK, from the simulator's report. */
  pubackMs: { p50: number; p99: number; max: number };
  /** Last PUBACK → the processors had read all the gateway accepted; null: not within the wait. */
  catchUpMs: number | null;
  /** CPU seconds of the set-up's processes over the step, by process, and their total. */
  cpuSeconds: Record<string, number>;
  cpuSecondsTotal: number;
  /** cpuSecondsTotal per million readings sent. */
  cpuSecondsPerMillionReadings: number;
  /** The set-up's CPU over the step's wall time, in cores. */
  cpuCores: number;
  /** The simulator's own CPU seconds (it shares the machine). */
  simulatorCpuSeconds: number;
  /** Highest RSS during the step, by process, and the highest of their sum, in MiB. */
  peakRssMiB: Record<string, number>;
  peakRssMiBTotal: number;
  wallMs: number;
  /** Verify step only: the simulator's verify line and whether it said exact. */
  verify?: { exact: boolean; line: string };
  pass: boolean;
  failures: string[];
}

/** What a step offers. */
export interface StepLoad {
  step: number;
  kind: StepResult['kind'];
  rate: number;
  durationMs: number;
  devices: number;
  /** Where the simulator's report goes. */
  dir: string;
}

const round = (n: number, digits = 3): number => Number(n.toFixed(digits));
const mib = (bytes: number): number => Math.round(bytes / 2 ** 20);

/** Runs one step against `setup` and judges it by `sluice bench`'s criteria (no loss, ≥ 95 % of offered, PUBACK p99 < 100 ms, processors caught up soon). */
export async function runStep(setup: RunningSetup, load: StepLoad): Promise<StepResult> {
  const devicePrefix = `${setup.name}-${load.kind}-${load.step}-`;
  const before = cpuSnapshot(setup.watched);
  const rss = new PeakRss(setup.watched);
  const started = performance.now();
  let catchUpMs: number | null;
  let outcome;
  try {
    outcome = await runSimulate({
      configFile: setup.configFile,
      urls: setup.urls,
      devices: load.devices,
      rate: load.rate,
      durationMs: load.durationMs,
      devicePrefix,
      seed: load.step,
      reportFile: join(load.dir, `${devicePrefix}report.json`),
      verify: load.kind === 'verify',
    });
    catchUpMs = await catchUp(setup, 2 * catchUpLimitMs(load.durationMs));
  } finally {
    rss.stop();
  }
  const wallMs = performance.now() - started;
  const after = cpuSnapshot(setup.watched);
  const cpuSeconds = Object.fromEntries([...after].map(([name, s]) => [name, round(s - (before.get(name) ?? 0), 2)]));
  const cpuTotal = [...after].reduce((sum, [name, s]) => sum + s - (before.get(name) ?? 0), 0);
  const { report } = outcome;
  const acked = Math.min(report.acknowledged, report.sent.messages);
  const result: StepResult = {
    step: load.step,
    kind: load.kind,
    offeredReadingsPerSecond: load.rate,
    achievedReadingsPerSecond: Math.round((acked * READINGS_PER_MESSAGE * 1000) / Math.max(1, report.durationMs)),
    sent: { messages: report.sent.messages, readings: report.sent.readings },
    acknowledged: report.acknowledged,
    lost: report.sent.messages + report.sent.duplicates - report.acknowledged,
    pubackMs: { p50: round(report.latencyMs.p50, 1), p99: round(report.latencyMs.p99, 1), max: round(report.latencyMs.max, 1) },
    catchUpMs,
    cpuSeconds,
    cpuSecondsTotal: round(cpuTotal, 2),
    cpuSecondsPerMillionReadings: round(cpuTotal / Math.max(1e-6, report.sent.readings / 1e6), 2),
    cpuCores: round(cpuTotal / (wallMs / 1000), 2),
    simulatorCpuSeconds: round(outcome.simulatorCpuSeconds, 2),
    peakRssMiB: Object.fromEntries([...rss.byName].map(([name, bytes]) => [name, mib(bytes)])),
    peakRssMiBTotal: mib(rss.total),
    wallMs: Math.round(wallMs),
    pass: false,
    failures: [],
  };
  if (outcome.verifyLine !== undefined) result.verify = { exact: outcome.exact === true, line: outcome.verifyLine };
  result.failures = judge(result, load.durationMs);
  result.pass = result.failures.length === 0;
  return result;
}

/** Waits (up to `waitMs`) until the processors have read every message the gateway accepted; resolves with how long that took, null: longer. */
export async function catchUp(setup: RunningSetup, waitMs: number): Promise<number | null> {
  const started = performance.now();
  for (;;) {
    const { accepted, processed } = await setup.counters();
    const ms = performance.now() - started;
    if (processed >= accepted) return Math.round(ms);
    if (ms > waitMs) return null;
    await sleep(100);
  }
}

/** The reasons a step does not count as sustained (none: it does). */
function judge(s: StepResult, durationMs: number): string[] {
  const failures: string[] = [];
  if (s.lost > PASS_CRITERIA.loss) failures.push(`${s.lost} publishes not acknowledged`);
  if (s.pubackMs.p99 >= PASS_CRITERIA.p99Ms) failures.push(`PUBACK p99 ${s.pubackMs.p99} ms ≥ ${PASS_CRITERIA.p99Ms} ms`);
  const share = s.achievedReadingsPerSecond / s.offeredReadingsPerSecond;
  if (share < PASS_CRITERIA.minAchievedShare) failures.push(`achieved ${(share * 100).toFixed(1)} % of offered < ${PASS_CRITERIA.minAchievedShare * 100} %`);
  const limit = catchUpLimitMs(durationMs);
  if (s.catchUpMs === null || s.catchUpMs > limit) {
    failures.push(`processors caught up ${s.catchUpMs === null ? `not within ${(2 * limit) / 1000} s` : `in ${(s.catchUpMs / 1000).toFixed(1)} s`} > ${(limit / 1000).toFixed(1)} s after the last PUBACK`);
  }
  if (s.verify && !s.verify.exact) failures.push(s.verify.line);
  return failures;
}
