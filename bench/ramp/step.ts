import { setTimeout as sleep } from 'node:timers/promises';
import { runSimulation, simulationOptionsSchema, type ExpectedModel, type ExpectedResult, type SimulationOptions, type SimulationReport } from '../../simulator/index.js';
import { bucketQuantile, type BrokerProcess, type BrokerSample } from './broker-process.js';
import { loadAverage, machineBusyCpuSeconds } from './machine.js';
import { PASS_CRITERIA, PROCESSOR_COUNTER_RESOLUTION_MS, type BenchOptions, type Scenario } from './options.js';

/** How often the broker is sampled during a step (peak RSS). */
const SAMPLE_EVERY_MS = 1000;
/** The simulator's event loop is one thread: this much of a core is all it has. */
const SIMULATOR_SATURATED_CORES = 0.9;
/** Longest warm-up before a ramp. */
const WARM_UP_MS = 5000;

/** One step of a ramp: the simulator at one offered rate against one broker. */
export interface StepResult {
  step: number;
  offeredReadingsPerSecond: number;
  /** Acknowledged readings over send start → last PUBACK. */
  achievedReadingsPerSecond: number;
  achievedMessagesPerSecond: number;
  /** Send start → last PUBACK (or the drain timeout). */
  durationMs: number;
  sent: { messages: number; readings: number };
  acknowledged: number;
  /** Publishes sent and never acknowledged. */
  lost: number;
  /** Gateway only: readings the gateway appended to its log during the step. */
  loggedReadings?: number;
  /**
   * Gateway only: the p99 of the time a micro-batch took to become durable in the log, as
   * the upper bound of its histogram bucket (sluice_gateway_log_append_seconds), in ms; null:
   * beyond the last bucket (1 s).
   */
  logAppendP99Ms?: number | null;
  /** Publish → PUBACK. */
  latencyMs: { p50: number; p99: number; max: number };
  brokerCpuSecondsPerMillionReadings: number;
  simulatorCpuSecondsPerMillionReadings: number;
  /** Highest broker RSS sampled during the step. */
  brokerRssMiB: number;
  /** CPU the broker and the simulator (the bench process) used, in cores (CPU seconds / wall seconds). */
  brokerCpuCores: number;
  simulatorCpuCores: number;
  /** The simulator used ≥ 0.9 of a core (its sending is single-threaded): the load, not the broker, may have been the limit. */
  simulatorSaturated: boolean;
  /** Linux: what everything else on the machine used meanwhile, in cores: the noise. */
  otherCpuCores?: number;
  /** 1-minute load average at the end of the step. */
  loadAverage: number;
  /** With processors. */
  processors?: {
    /** Messages the gateway had accepted that the processors had not read, at the step's last PUBACK (as their counter showed). */
    backlogMessages: number;
    /** Sum over partitions of sluice_processor_lag_records at the last PUBACK (a thread updates it when idle). */
    lagRecords: number;
    /** Last PUBACK → the processors had read every message the gateway accepted; null: not within the wait. */
    catchUpMs: number | null;
  };
  /** This step ran the rate of step `repeatOf` again, because that one failed while the machine was busy with other work. */
  repeatOf?: number;
  pass: boolean;
  /** Why it did not pass (empty when it did). */
  failures: string[];
  /** The simulator threw (no device could connect, …). */
  error?: string;
}

/** Counts readings; the bench checks acknowledgements and the log, not window aggregates. */
class CountingModel implements ExpectedModel {
  private readings = 0;
  constructor(private readonly devicePrefix: string) {}
  add(): void {
    this.readings++;
  }
  advance(): void {}
  result(): ExpectedResult {
    return { windows: [], quantileRelativeAccuracy: 0, devicePrefix: this.devicePrefix, eventTimeRange: { from: 0, to: 0 }, readings: this.readings, points: [] };
  }
}

interface Mark {
  at: number;
  own: NodeJS.CpuUsage;
  machine: number | undefined;
  broker: BrokerSample;
}

const round = (n: number, digits = 3): number => Number(n.toFixed(digits));
const cpuSeconds = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1e6;

/**
 * Runs the simulator for one step at `rate` readings/s against `broker` and judges it:
 * it passes when nothing is lost, PUBACK p99 is under the limit, the achieved rate is at
 * least the required share of the offered one, and (with processors) they catch up soon
 * after the last PUBACK. CPU and RSS are measured over the sending phase only (connect excluded).
 */
export async function runStep(broker: BrokerProcess, scenario: Scenario, options: BenchOptions, step: number, rate: number): Promise<StepResult> {
  return (await runStepWith(broker, scenario, options, step, rate)).result;
}

/** What a step feeds the readings the gateway should accept to (default: a count of them). */
export interface StepModel {
  /** The step's devices are this prefix plus a number. */
  devicePrefix: string;
  expected: ExpectedModel;
}

/**
 * runStep with the simulator's readings going to `model` (the verify step's reference
 * model); also resolves with the simulator's report (absent when the simulator threw).
 */
export async function runStepWith(
  broker: BrokerProcess,
  scenario: Scenario,
  options: BenchOptions,
  step: number,
  rate: number,
  model?: StepModel,
): Promise<{ result: StepResult; simulation?: SimulationReport }> {
  const devicePrefix = model?.devicePrefix ?? `bench-${scenario.name}-${broker.kind === 'sluice' ? 's' : 'b'}${step}-`;
  // Fresh device ids each step: the processors de-duplicate by (device, seq), and seq restarts at 1.
  const sim = stepSimulation(broker, scenario, options, rate, { duration: options.stepDuration, seed: step, devicePrefix, drainTimeout: Math.max(10_000, options.stepDuration) });
  let start: Mark | undefined;
  let peakRss = 0;
  let sampling: Promise<void> | undefined;
  let sampler: NodeJS.Timeout | undefined;
  async function mark(): Promise<Mark> {
    const broker_ = await broker.sample();
    peakRss = Math.max(peakRss, broker_.rssBytes);
    return { at: performance.now(), own: process.cpuUsage(), machine: machineBusyCpuSeconds(), broker: broker_ };
  }
  const base: StepResult = {
    step,
    offeredReadingsPerSecond: rate,
    achievedReadingsPerSecond: 0,
    achievedMessagesPerSecond: 0,
    durationMs: 0,
    sent: { messages: 0, readings: 0 },
    acknowledged: 0,
    lost: 0,
    latencyMs: { p50: 0, p99: 0, max: 0 },
    brokerCpuSecondsPerMillionReadings: 0,
    simulatorCpuSecondsPerMillionReadings: 0,
    brokerRssMiB: 0,
    brokerCpuCores: 0,
    simulatorCpuCores: 0,
    simulatorSaturated: false,
    loadAverage: 0,
    pass: false,
    failures: [],
  };
  try {
    const report = await runSimulation(sim, {
      expected: model?.expected ?? new CountingModel(devicePrefix),
      connected: async () => {
        start = await mark();
        sampler = setInterval(() => {
          sampling ??= broker
            .sample()
            .then((s) => void (peakRss = Math.max(peakRss, s.rssBytes)))
            .catch(() => undefined)
            .finally(() => (sampling = undefined));
        }, SAMPLE_EVERY_MS);
      },
    });
    clearInterval(sampler);
    await sampling;
    const acksDone = await mark();
    // With processors, the step's work ends when they have read it all: CPU is counted until then.
    const caughtUp = broker.processors ? await catchUp(broker, acksDone.broker, options.stepDuration) : undefined;
    const end = caughtUp?.mark ?? acksDone;
    peakRss = Math.max(peakRss, end.broker.rssBytes);
    const begin = start!;
    const wall = (end.at - begin.at) / 1000;
    const acked = Math.min(report.acknowledged, report.sent.messages);
    const ackedReadings = acked * scenario.batch;
    const activeMs = Math.max(1, report.durationMs);
    const millions = Math.max(1, report.sent.readings) / 1e6;
    const brokerCpu = end.broker.cpuSeconds - begin.broker.cpuSeconds;
    const ownCpu = cpuSeconds(end.own) - cpuSeconds(begin.own);
    const result: StepResult = {
      ...base,
      achievedReadingsPerSecond: Math.round((ackedReadings * 1000) / activeMs),
      achievedMessagesPerSecond: Math.round((acked * 1000) / activeMs),
      durationMs: report.durationMs,
      sent: { messages: report.sent.messages, readings: report.sent.readings },
      acknowledged: report.acknowledged,
      lost: report.sent.messages + report.sent.duplicates - report.acknowledged,
      latencyMs: { p50: report.latencyMs.p50, p99: report.latencyMs.p99, max: report.latencyMs.max },
      brokerCpuSecondsPerMillionReadings: round(brokerCpu / millions),
      simulatorCpuSecondsPerMillionReadings: round(ownCpu / millions),
      brokerRssMiB: Math.round(peakRss / 2 ** 20),
      brokerCpuCores: round(brokerCpu / wall, 2),
      simulatorCpuCores: round(ownCpu / wall, 2),
      simulatorSaturated: ownCpu / wall >= SIMULATOR_SATURATED_CORES,
      loadAverage: loadAverage(),
    };
    const appendP99 = bucketQuantile(begin.broker.appendBuckets, acksDone.broker.appendBuckets, 0.99);
    if (appendP99 !== undefined) result.logAppendP99Ms = Number.isFinite(appendP99) ? Number((appendP99 * 1000).toPrecision(6)) : null;
    if (acksDone.broker.loggedReadings !== undefined) result.loggedReadings = acksDone.broker.loggedReadings - (begin.broker.loggedReadings ?? 0);
    if (end.machine !== undefined && begin.machine !== undefined) result.otherCpuCores = round(Math.max(0, end.machine - begin.machine - brokerCpu - ownCpu) / wall, 2);
    if (caughtUp) {
      result.processors = {
        backlogMessages: Math.max(0, (acksDone.broker.gatewayMessages ?? 0) - (acksDone.broker.processorMessages ?? 0)),
        lagRecords: acksDone.broker.lagRecords ?? 0,
        catchUpMs: caughtUp.ms,
      };
    }
    result.failures = judge(result, options.stepDuration);
    result.pass = result.failures.length === 0;
    return { result, simulation: report };
  } catch (err) {
    clearInterval(sampler);
    const message = (err as Error).message;
    return { result: { ...base, loadAverage: loadAverage(), error: message, failures: [`simulator: ${message}`] } };
  }
}

/**
 * Sends at `rate` for up to 5 s (at most one step) and discards the figures: a fresh
 * broker's first second (JIT, worker threads starting) should not decide the first step.
 */
export async function warmUp(broker: BrokerProcess, scenario: Scenario, options: BenchOptions, rate: number): Promise<void> {
  const devicePrefix = `bench-${scenario.name}-warm-`;
  const sim = stepSimulation(broker, scenario, options, rate, { duration: Math.min(WARM_UP_MS, options.stepDuration), devicePrefix, drainTimeout: 10_000 });
  await runSimulation(sim, { expected: new CountingModel(devicePrefix) });
}

/** The most a step may take to catch up: its share of the step plus the counter's resolution. */
export function catchUpLimitMs(stepDurationMs: number): number {
  return PASS_CRITERIA.maxCatchUpShare * stepDurationMs + PROCESSOR_COUNTER_RESOLUTION_MS;
}

/**
 * Waits (up to twice the limit) until the processors have read every message the gateway
 * had accepted at `acks`; resolves with how long that took (null: longer) and the sample then.
 */
async function catchUp(broker: BrokerProcess, acks: BrokerSample, stepDurationMs: number): Promise<{ ms: number | null; mark: Mark }> {
  const target = acks.gatewayMessages ?? 0;
  const started = performance.now();
  const wait = 2 * catchUpLimitMs(stepDurationMs);
  for (;;) {
    const sample = await broker.sample();
    const at = performance.now();
    const mark = { at, own: process.cpuUsage(), machine: machineBusyCpuSeconds(), broker: sample };
    if ((sample.processorMessages ?? 0) >= target) return { ms: Math.round(at - started), mark };
    if (at - started > wait || broker.exitCode() !== null) return { ms: null, mark };
    await sleep(100);
  }
}

/** The reasons a step does not count as sustained (none: it does). */
export function judge(s: StepResult, stepDurationMs: number): string[] {
  const failures: string[] = [];
  if (s.lost > PASS_CRITERIA.loss) failures.push(`${s.lost} publishes not acknowledged`);
  if (s.loggedReadings !== undefined && s.loggedReadings < s.sent.readings) failures.push(`${s.sent.readings - s.loggedReadings} readings acknowledged but not in the log`);
  if (s.latencyMs.p99 >= PASS_CRITERIA.p99Ms) failures.push(`PUBACK p99 ${s.latencyMs.p99.toFixed(1)} ms ≥ ${PASS_CRITERIA.p99Ms} ms`);
  const share = s.achievedReadingsPerSecond / s.offeredReadingsPerSecond;
  if (share < PASS_CRITERIA.minAchievedShare) failures.push(`achieved ${(share * 100).toFixed(1)} % of offered < ${PASS_CRITERIA.minAchievedShare * 100} %`);
  const limit = catchUpLimitMs(stepDurationMs);
  if (s.processors && (s.processors.catchUpMs === null || s.processors.catchUpMs > limit)) {
    failures.push(`processors caught up ${s.processors.catchUpMs === null ? `not within ${(2 * limit) / 1000} s` : `in ${(s.processors.catchUpMs / 1000).toFixed(1)} s`} > ${(limit / 1000).toFixed(1)} s after the last PUBACK`);
  }
  return failures;
}

/** The simulator's options for one step (or the warm-up) of `scenario` at `rate` on `broker`: QoS 1, the bench's fleet. */
function stepSimulation(broker: BrokerProcess, scenario: Scenario, options: BenchOptions, rate: number, run: { duration: number; seed?: number; devicePrefix: string; drainTimeout: number }): SimulationOptions {
  return simulationOptionsSchema.parse({
    url: broker.mqttUrl,
    devices: options.devices,
    rate,
    batch: scenario.batch,
    shape: scenario.shape,
    metrics: scenario.metrics,
    qos: 1,
    inflight: options.inflight,
    ...run,
  });
}
