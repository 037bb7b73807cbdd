/**
 * One set-up's part of the bench: start it, warm it up, ramp the offered rate until a
 * step fails, run the verify step at the highest rate it sustained, and stop it
 * whatever happened.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuSnapshot } from '../proc-usage.js';
import { SETUP_TITLES, startSetup, type RunningSetup, type SetupName } from './setups.js';
import type { JetStreamBenchOptions } from './options.js';
import { catchUp, runStep, type StepLoad, type StepResult } from './step.js';

/** How long a failed step's backlog may take to drain before the verify step starts. */
const DRAIN_BEFORE_VERIFY_MS = 90_000;
/** How long the set-up's CPU is watched with no load after the warm-up. */
const IDLE_MS = 3000;

/** One set-up's figures. */
export interface SetupResult {
  name: SetupName;
  title: string;
  warmUp?: StepResult;
  /** CPU of the set-up's processes with no load, in cores: the fixed cost inside every step's CPU (pollers, NATS heartbeats). */
  idleCpuCores?: number;
  steps: StepResult[];
  /** The highest ramp step that passed (undefined: none did). */
  sustained?: StepResult;
  /** Every ramp step passed: the set-up may sustain more than `sustained`. */
  lowerBound: boolean;
  /** `sluice simulate --verify` at the sustained rate (the lowest rate when none passed). */
  verify?: StepResult;
  /** The set-up failed to start or a step threw; the output of its processes follows the message. */
  error?: string;
}

/** Runs set-up `name` against InfluxDB at `influxUrl` (its own database); `say` hears each step as it ends. */
export async function runSetup(name: SetupName, influxUrl: string, options: JetStreamBenchOptions, dir: string, say: (line: string) => void): Promise<SetupResult> {
  const result: SetupResult = { name, title: SETUP_TITLES[name], steps: [], lowerBound: false };
  const database = `sluice_bench_${name.replace(/-/g, '_')}_${Date.now()}`;
  let setup;
  try {
    setup = await startSetup(name, influxUrl, database);
  } catch (err) {
    return { ...result, error: (err as Error).message };
  }
  const load = (step: number, kind: StepLoad['kind'], rate: number, durationMs: number): StepLoad => ({ step, kind, rate, durationMs, devices: options.devices, dir });
  try {
    result.warmUp = await runStep(setup, load(0, 'warm-up', options.rates[0]!, options.warmUpMs));
    await catchUp(setup, DRAIN_BEFORE_VERIFY_MS);
    result.idleCpuCores = await idleCpuCores(setup);
    say(`${name} idle: ${result.idleCpuCores} cores`);
    for (const [i, rate] of options.rates.entries()) {
      const step = await runStep(setup, load(i + 1, 'ramp', rate, options.stepMs));
      result.steps.push(step);
      say(stepLine(name, step));
      if (!step.pass) break;
      result.sustained = step;
    }
    result.lowerBound = result.steps.length === options.rates.length && result.steps.every((s) => s.pass);
    // A failed step leaves a backlog: the verify step starts from an idle set-up.
    await catchUp(setup, DRAIN_BEFORE_VERIFY_MS);
    result.verify = await runStep(setup, load(options.rates.length + 1, 'verify', result.sustained?.offeredReadingsPerSecond ?? options.rates[0]!, options.stepMs));
    say(stepLine(name, result.verify));
  } catch (err) {
    result.error = `${(err as Error).message}\n${setup.output()}`;
  } finally {
    await setup.stop();
  }
  return result;
}

/** The set-up's CPU over IDLE_MS with nothing sent, in cores. */
async function idleCpuCores(setup: RunningSetup): Promise<number> {
  const before = cpuSnapshot(setup.watched);
  const started = performance.now();
  await sleep(IDLE_MS);
  const after = cpuSnapshot(setup.watched);
  const seconds = (performance.now() - started) / 1000;
  const cpu = [...after].reduce((sum, [name, s]) => sum + s - (before.get(name) ?? 0), 0);
  return Number((cpu / seconds).toFixed(2));
}

/** One line per finished step, for the console while the bench runs. */
function stepLine(name: string, s: StepResult): string {
  const verdict = s.pass ? 'pass' : `FAIL (${s.failures.join('; ')})`;
  const verify = s.verify ? `, ${s.verify.line}` : '';
  return `${name} ${s.kind} ${s.offeredReadingsPerSecond.toLocaleString('en')}/s → ${s.achievedReadingsPerSecond.toLocaleString('en')} readings/s, PUBACK p50 ${s.pubackMs.p50} p99 ${s.pubackMs.p99} ms, ${s.cpuSecondsPerMillionReadings} CPU s/M, ${s.cpuCores} cores, RSS ${s.peakRssMiBTotal} MiB, catch-up ${s.catchUpMs ?? '—'} ms${verify}: ${verdict}`;
}
