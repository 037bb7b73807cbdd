/**
 * `sluice bench --mode load`: closed-loop QoS 1 load with pre-encoded payloads (each
 * connection keeps `inflight` publishes outstanding and sends the next on each PUBACK),
 * so the broker, not the generator, is what saturates. Runs bare aedes, mosquitto (when
 * installed), `sluice gateway` and, with an InfluxDB, `sluice start` in the same run,
 * round after round in rotating order, and verifies every `sluice start` round end to
 * end: the readings counted in InfluxDB's window points must equal the readings PUBACKed.
 */
import hdr from 'hdr-histogram-js';
import { ReadingBatch } from '../../proto/index.js';
import { fleetPayload, LoadClient, withSeqSlot } from '../load-client.js';
import { bucketQuantile, startBareAedes, startSluiceProcess, type BrokerProcess } from '../ramp/index.js';
import { cpuSecondsOf, listeningPid, machineCpuSeconds } from '../proc-usage.js';
import { LateBursts, type LateSummary } from './late-bursts.js';
import { findMosquitto, startMosquitto } from './mosquitto-process.js';
import { countWindowReadings, dropDatabase } from './window-readings.js';

export const LOAD_BROKERS = ['bare-aedes', 'mosquitto', 'sluice-gateway', 'sluice-start'] as const;
export type LoadBroker = (typeof LOAD_BROKERS)[number];
/** Readings per message: single 1, series one 100-reading Series, fleet 5 metrics × 20 readings whose event time moves on per message. */
export const LOAD_SCENARIOS = { single: 1, series: 100, fleet: 100 } as const;
/** The fleet scenario's metrics, 20 readings each 10 ms apart per message (200 ms of a device's event time). */
const FLEET_METRICS = ['temperature', 'humidity', 'pressure', 'vibration', 'voltage'];
export type LoadScenario = keyof typeof LOAD_SCENARIOS;

export interface LoadOptions {
  scenarios: LoadScenario[];
  /** Which brokers run (default all); mosquitto and sluice-start are still skipped when they cannot run. */
  brokers?: readonly LoadBroker[];
  connections: number;
  inflight: number;
  durationMs: number;
  /** Load before a round measures; for sluice-start it also lasts until `firstCheckpoints` checkpoints are done. */
  warmupMs: number;
  /**
   * sluice-start: the checkpoints (one per processor thread) its warm-up waits for, and for
   * how long at most (its checkpoint interval and a margin). A fresh process's first window
   * closes, sink flushes and checkpoints run code V8 has not compiled yet: once per process,
   * a burst of late PUBACKs that is no part of the steady state (like the first /metrics
   * scrape below). Default: no wait.
   */
  firstCheckpoints?: { count: number; withinMs: number };
  /** With it: every connection publishes at its share of this many messages per second (paced), not as fast as PUBACKs return. */
  rateMsgsPerSecond?: number;
  rounds: number;
  /**
   * With it: `sluice start` runs too, each round's processors writing to a database of its
   * own (this name, `_r<round>` and the scenario), which the round's verify reads and then
   * drops unless `keep`.
   */
  influx?: { url: string; database: string; measurement: string; keep?: boolean };
  /** The user's --config and --set for the sluice processes, and where their data dirs go. */
  sluice: { configFile?: string; sets?: string[]; dataParent?: string; cpuProfDir?: string; nodeArgs?: string[] };
  /** How long the window counts may stay unchanged before a round is called not exact. */
  verifyStallMs: number;
}

/** One round of one broker under one scenario. */
export interface LoadRun {
  broker: LoadBroker;
  scenario: LoadScenario;
  round: number;
  msgsPerSecond: number;
  readingsPerSecond: number;
  /** Paced rounds: the rate offered, and publishes that came due but could not wait for the window (not sent, not counted). */
  offered?: { msgsPerSecond: number; shed: number };
  /** The broker process's CPU (every thread) per million messages measured. */
  brokerCpuSecondsPerMillionMessages: number;
  brokerCpuSecondsPerMillionReadings: number;
  /** Its main thread's share (Linux): the one thread every socket goes through, so what bounds the rate first. */
  mainThreadCpuSecondsPerMillionMessages: number;
  /** The load generator's own CPU per million messages (it shares the cores). */
  loadCpuSecondsPerMillionMessages: number;
  /** sluice-start writing to an influxd on this machine: influxd's CPU per million messages over the round (it shares the cores too). */
  influxdCpuSecondsPerMillionMessages?: number;
  /**
   * sluice-start: log records its processors had not processed yet (sluice_processor_lag_records, all partitions) as
   * the round began and as it ended. A lag that grew means the gateway took in faster than the windows kept up: the
   * round's rate is then not an end-to-end rate the machine can sustain (the log buffers the difference).
   */
  processorLagRecords?: { start: number; end: number };
  /** Cores the whole machine kept busy over the round (every process; /proc/stat): at the core count, the round was bound by CPU. */
  machineBusyCores: number;
  brokerRssMiB: number;
  pubackMs: { p50: number; p99: number; max: number };
  /**
   * Paced rounds: how late the generator itself offered publishes after they came due (its
   * event loop, its share of the cores). Part of every PUBACK time above, caused by no broker.
   */
  generatorLagMs?: { p99: number; max: number };
  /** The measured publishes PUBACKed past issue 15's 20 ms bar, and the bursts they came in (see LateBursts). */
  late: LateSummary;
  /** The same for the warm-up, which the round's figures leave out: the connections' start and a fresh process's first checkpoints. */
  warmupLate: LateSummary;
  /** How long the warm-up lasted (longer than options.warmupMs while sluice-start's first checkpoints were awaited). */
  warmupMs: number;
  /**
   * Sluice only, from its own histograms (so the upper bound of the bucket holding the p99): a micro-batch's log
   * append, and arrival to PUBACK release inside the process. Set beside the client's p99 they say whether a
   * tail was the disk, the gateway, or the path between (the load generator, the kernel, the event loop).
   */
  gatewayP99Ms?: { append: number | undefined; puback: number | undefined };
  /** sluice-start only: readings PUBACKed in the whole round (warm-up included) and readings counted in InfluxDB's window points. */
  verify?: { expectedReadings: number; foundReadings: number; exact: boolean };
}

export interface LoadHooks {
  round?: (run: LoadRun) => void;
  skipped?: (broker: LoadBroker, why: string) => void;
}

/** Runs every broker × scenario × round; the brokers' order rotates each round so none always runs on a warmer machine. */
export async function runLoad(options: LoadOptions, hooks: LoadHooks = {}): Promise<LoadRun[]> {
  const mosquitto = findMosquitto();
  const brokers = LOAD_BROKERS.filter((b) => {
    if (options.brokers !== undefined && !options.brokers.includes(b)) return false;
    if (b === 'mosquitto' && mosquitto === undefined) hooks.skipped?.(b, 'not installed (apt-get install mosquitto)');
    else if (b === 'sluice-start' && options.influx === undefined) hooks.skipped?.(b, 'no --influx-url');
    else return true;
    return false;
  });
  const runs: LoadRun[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const order = brokers.map((_, i) => brokers[(i + round - 1) % brokers.length]!);
    for (const scenario of options.scenarios) {
      for (const broker of order) {
        const influx = broker === 'sluice-start' ? { ...options.influx!, database: `${options.influx!.database}_r${round}_${scenario}` } : undefined;
        const roundOptions = influx === undefined ? options : { ...options, influx };
        const process = await startBroker(broker, roundOptions, mosquitto);
        try {
          const run = await runRound(process, broker, scenario, round, roundOptions);
          runs.push(run);
          hooks.round?.(run);
        } finally {
          await process.stop();
          if (influx !== undefined && influx.keep !== true) await dropDatabase(influx);
        }
      }
    }
  }
  return runs;
}

/** How often the warm-up scrapes /metrics for the first checkpoints (scrapes cost the gateway thread a little; none are taken while a round measures). */
const FIRST_CHECKPOINTS_POLL_MS = 250;

/** Resolves once the process's processors have completed `count` checkpoints in all; throws past `withinMs` of waiting. */
async function firstCheckpoints(process: BrokerProcess, { count, withinMs }: { count: number; withinMs: number }): Promise<void> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    // Prometheus exposes nothing to wait on: a scrape is the only way to see the count.
    const done = (await process.sample()).checkpoints ?? 0;
    if (done >= count) return;
    if (performance.now() > deadline) {
      throw new Error(`bench: sluice start completed ${done} of its first ${count} checkpoints in ${Math.round(withinMs / 1000)} s more of warm-up; see its checkpoint.interval and its log`);
    }
    await sleep(FIRST_CHECKPOINTS_POLL_MS);
  }
}

function startBroker(broker: LoadBroker, options: LoadOptions, mosquitto: string | undefined): Promise<BrokerProcess> {
  switch (broker) {
    case 'bare-aedes':
      return startBareAedes();
    case 'mosquitto':
      return startMosquitto(mosquitto!);
    case 'sluice-gateway':
      return startSluiceProcess({ ...options.sluice });
    case 'sluice-start': {
      const influx = options.influx!;
      // The last windows close 2 s after the load stops and reach InfluxDB within a second.
      const extraSets = [`influx.database=${influx.database}`, 'time.idleTimeout=2s', 'influx.flushInterval=500ms'];
      // The config's checkpoint interval (10 s by default), as a user runs it: nothing here reads the counters a checkpoint adds to.
      return startSluiceProcess({ ...options.sluice, influxUrl: influx.url, extraSets, checkpointInterval: undefined });
    }
  }
}

async function runRound(process: BrokerProcess, broker: LoadBroker, scenario: LoadScenario, round: number, options: LoadOptions): Promise<LoadRun> {
  const readingsPerMessage = LOAD_SCENARIOS[scenario];
  const port = Number(new URL(process.mqttUrl).port);
  const latency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  const sendLag = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 2 });
  const late = new LateBursts();
  const lateUs = late.lateMs * 1000;
  // The clients record in µs; a late one is also placed in time (one compare per PUBACK otherwise).
  const recorder = {
    recordValue(us: number): void {
      latency.recordValue(us);
      if (us > lateUs) late.note(performance.now(), us / 1000);
    },
  };
  const prefix = `load-${scenario}-${broker}-r${round}-${Date.now().toString(36)}-`;
  // Found before the connections open: the walk over every process's descriptors would cost the round.
  const influxdPid = broker === 'sluice-start' ? localListener(options.influx!.url) : undefined;
  // Fleet devices start an hour back (within time.maxBackfill) so none runs ahead of the wall clock at 5 publishes/s.
  const timed = scenario === 'fleet' ? fleetPayload(FLEET_METRICS, 20, 10, Date.now() - 3_600_000) : undefined;
  const payload = timed?.payload ?? loadPayload(readingsPerMessage, Date.now());
  const clients: LoadClient[] = [];
  // Connections open a few hundred at a time from 16 loopback addresses, as the simulator's do: a burst of thousands
  // of SYNs overflows the listen backlog, and the gateway holds at most mqtt.maxPendingPerAddress unCONNECTed sockets per address.
  for (let first = 0; first < options.connections; first += 500) {
    const n = Math.min(500, options.connections - first);
    clients.push(...(await Promise.all(Array.from({ length: n }, (_, i) => LoadClient.open(port, `${prefix}${first + i}`, `devices/${prefix}${first + i}/telemetry`, payload, options.inflight, recorder, true, timed, `127.0.0.${1 + ((first + i) % 16)}`)))));
  }
  const rate = options.rateMsgsPerSecond;
  let ticker: NodeJS.Timeout | undefined;
  if (rate === undefined) for (const c of clients) c.start();
  else {
    const now = performance.now();
    clients.forEach((c, i) => c.startPaced(rate / clients.length, now, i / clients.length, sendLag));
    ticker = setInterval(() => {
      const t = performance.now();
      for (const c of clients) c.offer(t);
    }, PACE_TICK_MS);
  }
  // A process's first /metrics scrape compiles prom-client's code and stalled Sluice's
  // gateway thread 60–80 ms under load: taken in the warm-up, it is not charged to the round.
  const warmupStarted = performance.now();
  await sleep(options.warmupMs / 2);
  await process.sample();
  await sleep(options.warmupMs / 2);
  if (process.processors && options.firstCheckpoints !== undefined) await firstCheckpoints(process, options.firstCheckpoints);
  const warmupMs = Math.round(performance.now() - warmupStarted);
  const warmupLate = late.summary();
  latency.reset();
  sendLag.reset();
  late.reset();
  const acked = (): number => clients.reduce((n, c) => n + c.acked, 0);
  const ackedBefore = acked();
  const before = await process.sample();
  const loadBefore = globalThis.process.cpuUsage();
  const influxdBefore = influxdPid === undefined ? 0 : cpuSecondsOf(influxdPid);
  const machineBefore = machineCpuSeconds();
  const started = performance.now();
  await sleep(options.durationMs);
  const seconds = (performance.now() - started) / 1000;
  const messages = acked() - ackedBefore;
  const after = await process.sample();
  const loadCpu = globalThis.process.cpuUsage(loadBefore);
  const influxdCpu = influxdPid === undefined ? undefined : cpuSecondsOf(influxdPid) - influxdBefore;
  const machineBusy = machineCpuSeconds().busy - machineBefore.busy;
  const p = { p50: latency.getValueAtPercentile(50) / 1000, p99: latency.getValueAtPercentile(99) / 1000, max: latency.maxValue / 1000 };
  const lateBursts = late.summary();
  const generatorLagMs = { p99: sendLag.getValueAtPercentile(99) / 1000, max: sendLag.maxValue / 1000 };
  clearInterval(ticker);
  for (const c of clients) c.stop();
  await Promise.all(clients.map((c) => c.drained()));
  for (const c of clients) c.close();
  const run: LoadRun = {
    broker,
    scenario,
    round,
    msgsPerSecond: Math.round(messages / seconds),
    readingsPerSecond: Math.round((messages * readingsPerMessage) / seconds),
    brokerCpuSecondsPerMillionMessages: round3(((after.cpuSeconds - before.cpuSeconds) / messages) * 1e6),
    brokerCpuSecondsPerMillionReadings: round3(((after.cpuSeconds - before.cpuSeconds) / (messages * readingsPerMessage)) * 1e6),
    mainThreadCpuSecondsPerMillionMessages: round3((((after.mainThreadCpuSeconds ?? NaN) - (before.mainThreadCpuSeconds ?? NaN)) / messages) * 1e6),
    loadCpuSecondsPerMillionMessages: round3(((loadCpu.user + loadCpu.system) / 1e6 / messages) * 1e6),
    ...(influxdCpu === undefined ? {} : { influxdCpuSecondsPerMillionMessages: round3((influxdCpu / messages) * 1e6) }),
    machineBusyCores: Math.round((machineBusy / seconds) * 100) / 100,
    ...(before.lagRecords === undefined || after.lagRecords === undefined ? {} : { processorLagRecords: { start: before.lagRecords, end: after.lagRecords } }),
    brokerRssMiB: Math.round(after.rssBytes / 2 ** 20),
    pubackMs: p,
    late: lateBursts,
    warmupLate,
    warmupMs,
    ...(after.appendBuckets === undefined
      ? {}
      : {
          gatewayP99Ms: {
            append: msOf(bucketQuantile(before.appendBuckets, after.appendBuckets, 0.99)),
            puback: msOf(bucketQuantile(before.pubackBuckets, after.pubackBuckets, 0.99)),
          },
        }),
    ...(rate === undefined ? {} : { offered: { msgsPerSecond: rate, shed: clients.reduce((n, c) => n + c.shed, 0) }, generatorLagMs }),
  };
  if (broker === 'sluice-start') {
    const expectedReadings = acked() * readingsPerMessage;
    const influx = options.influx!;
    const foundReadings = await countWindowReadings(influx, prefix, expectedReadings, options.verifyStallMs);
    run.verify = { expectedReadings, foundReadings, exact: foundReadings === expectedReadings };
  }
  return run;
}

/**
 * One pre-encoded payload for every publish of a round (its seq slot is numbered per
 * publish): one reading, or a 100-reading Series 10 ms apart, at `now`. Event time stays
 * at the round's start, so no reading is ever late and the windows close on the idle timeout.
 */
function loadPayload(readings: number, now: number): Buffer {
  const rest =
    readings === 1
      ? ReadingBatch.encode({ readings: [{ metric: 'temperature', timeUnixMs: now, doubleValue: 21.5 }] }).finish()
      : ReadingBatch.encode({
          series: [{ metric: 'vibration', startUnixMs: now, timeDeltaMs: Array.from({ length: readings }, (_, i) => i * 10), values: Array.from({ length: readings }, (_, i) => Math.sin(i) * 100) }],
        }).finish();
  return withSeqSlot(rest);
}

/** How often paced connections send what has come due: a steady sender's gaps are this short, far below a PUBACK's time. */
const PACE_TICK_MS = 2;

/** The pid of the process serving `url` when its host is this machine's loopback (an influxd the bench can account for). */
function localListener(url: string): number | undefined {
  const u = new URL(url);
  if (!['localhost', '127.0.0.1', '[::1]'].includes(u.hostname)) return undefined;
  return listeningPid(Number(u.port || (u.protocol === 'https:' ? 443 : 80)));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const round3 = (n: number): number => Math.round(n * 1000) / 1000;
const msOf = (seconds: number | undefined): number | undefined => (seconds === undefined ? undefined : seconds * 1000);
