import { setTimeout as sleep } from 'node:timers/promises';
import type { BrokerProcess } from './broker-process.js';
import type { BenchOptions, Scenario } from './options.js';
import { runStep, warmUp, type StepResult } from './step.js';

/** A failed step during which other processes used this many cores is run again. */
export const NOISY_CORES = 0.25;
/** Longest wait, between steps, for the processors to catch up. */
const BACKLOG_DRAIN_TIMEOUT_MS = 60_000;

/** One broker's ramp through a scenario. */
export interface RampResult {
  broker: BrokerProcess['kind'];
  /** How the broker ran. */
  command: string;
  steps: StepResult[];
  /** The passing step with the highest achieved rate; absent when none passed. */
  best?: StepResult;
  /** Why the ramp ended. */
  stopped: 'resolved' | 'max-steps' | 'broker-exited' | 'no-passing-rate';
  /** The lowest offered rate that failed, if any: the best lies below it. */
  lowestFailingRate?: number;
}

/** Rates are rounded to 3 significant digits, so the tables read well. */
export function roundRate(rate: number): number {
  const magnitude = 10 ** Math.max(0, Math.floor(Math.log10(rate)) - 2);
  return Math.max(1, Math.round(rate / magnitude) * magnitude);
}

/**
 * The next offered rate: × growth while every step passed, halving while none has, and
 * then the geometric middle of the highest passing and the lowest failing rate, until they
 * are within `resolution` of each other (undefined: the ramp is done).
 */
export function nextRate(current: number, highestPass: number | undefined, lowestFail: number | undefined, o: Pick<BenchOptions, 'growth' | 'resolution'>): number | undefined {
  if (lowestFail === undefined) return roundRate(current * o.growth);
  if (highestPass === undefined) {
    const half = roundRate(current / 2);
    return half < current ? half : undefined;
  }
  if (lowestFail / highestPass <= o.resolution) return undefined;
  const middle = roundRate(Math.sqrt(highestPass * lowestFail));
  return middle > highestPass && middle < lowestFail ? middle : undefined;
}

/** Warms the broker up, then steps the offered rate for one scenario against it; `onStep` hears each step as it ends. */
export async function runRamp(broker: BrokerProcess, scenario: Scenario, options: BenchOptions, onStep: (s: StepResult) => void): Promise<RampResult> {
  const steps: StepResult[] = [];
  let rate: number | undefined = roundRate(options.startRate ?? scenario.defaultStartRate);
  let highestPass: number | undefined;
  let lowestFail: number | undefined;
  let stopped: RampResult['stopped'] = 'max-steps';
  // A failing warm-up shows again in the first step, which records why.
  await warmUp(broker, scenario, options, rate).catch(() => undefined);
  // Short steps get short pauses (the test's 1 s steps).
  const pause = Math.min(options.settle, options.stepDuration / 2);
  await settle(broker, pause);
  let step = 0;
  const record = (result: StepResult): void => {
    steps.push(result);
    onStep(result);
  };
  while (step < options.maxSteps && rate !== undefined) {
    let result = await runStep(broker, scenario, options, ++step, rate);
    record(result);
    // On a shared machine a failure may be someone else's load: a noisy failure is run again, and the rate fails only if that fails too.
    if (!result.pass && (result.otherCpuCores ?? 0) >= NOISY_CORES && step < options.maxSteps && broker.exitCode() === null) {
      await settle(broker, pause);
      result = { ...(await runStep(broker, scenario, options, ++step, rate)), repeatOf: step - 1 };
      record(result);
    }
    if (result.pass) highestPass = Math.max(highestPass ?? 0, rate);
    else lowestFail = Math.min(lowestFail ?? Infinity, rate);
    if (broker.exitCode() !== null) {
      stopped = 'broker-exited';
      break;
    }
    rate = nextRate(rate, highestPass, lowestFail, options);
    if (rate === undefined) stopped = highestPass === undefined ? 'no-passing-rate' : 'resolved';
    else if (step < options.maxSteps) await settle(broker, pause);
  }
  const passed = steps.filter((s) => s.pass);
  const best = passed.reduce<StepResult | undefined>((b, s) => (b === undefined || s.achievedReadingsPerSecond > b.achievedReadingsPerSecond ? s : b), undefined);
  return { broker: broker.kind, command: broker.command, steps, best, stopped, lowestFailingRate: lowestFail };
}

/** Lets the broker finish what the last step left: a pause, and with processors until their backlog is gone. */
export async function settle(broker: BrokerProcess, pauseMs: number): Promise<void> {
  await sleep(pauseMs);
  if (!broker.processors) return;
  const deadline = performance.now() + BACKLOG_DRAIN_TIMEOUT_MS;
  while (performance.now() < deadline && broker.exitCode() === null) {
    const s = await broker.sample().catch(() => undefined);
    if (!s || (s.gatewayMessages ?? 0) - (s.processorMessages ?? 0) <= 0) return;
    await sleep(500);
  }
}
