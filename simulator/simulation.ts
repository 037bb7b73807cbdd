import { createHmac } from 'node:crypto';
import hdr from 'hdr-histogram-js';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { SluiceError } from '../core/index.js';
import { DeviceConnection, GatewayUnreachableError } from './device-connection.js';
import { FleetPlan, MALFORMED_KINDS } from './fleet-plan.js';
import type { SimulationOptions } from './options.js';
import { encodeMessage } from './payloads.js';
import { REPORT_VERSION, type ExpectedResult, type SimulationReport } from './report.js';

/** Where accepted readings go: the reference model computing the expected aggregates. */
export interface ExpectedModel {
  /** Starts a message of `device`, received by the gateway within `received` (ms since the epoch; default: about now). */
  message?(device: string, received?: { from: number; to: number }): void;
  add(device: string, metric: string, time: number, value: number): void;
  /** Every reading added later has an event time ≥ `eventTime`. */
  advance(eventTime: number): void;
  result(): ExpectedResult;
}

/** A snapshot for the progress line. */
export interface SimulationProgress {
  phase: 'connecting' | 'sending' | 'draining';
  elapsedMs: number;
  connected: number;
  sent: number;
  acknowledged: number;
  malformed: number;
  resent: number;
  /** Readings per second over the last progress interval. */
  readingsPerSecond: number;
}

export interface SimulationHooks {
  expected: ExpectedModel;
  /** Called about twice a second. */
  progress?: (p: SimulationProgress) => void;
  /** A device's MQTT password (registry mode); default: the fleet key's token, or none. */
  password?: (deviceId: string) => string | undefined;
  /** Awaited once the fleet has connected, before the first send. */
  connected?: (devices: number) => Promise<void> | void;
  /** Awaited after `connected`, before the fleet's event time starts (--anomalies sends its episodes here). */
  beforeSending?: () => Promise<void>;
}

/** Parallel CONNECTs while the fleet comes up. */
const CONNECT_CONCURRENCY = 200;
/** Most work one scheduler turn does before letting sockets run. */
const TURN_BUDGET_MS = 20;

/**
 * Runs a simulated fleet: connects every device, sends the FleetPlan's messages on
 * schedule (duplicates, broken payloads and churn included), waits for the last
 * PUBACKs, and returns the report with the expected aggregates of the readings the
 * gateway should have accepted. Every valid message is sent until acknowledged
 * (QoS 1), so those readings reach the log.
 */
export async function runSimulation(options: SimulationOptions, hooks: SimulationHooks): Promise<SimulationReport> {
  const gateways = options.url.split(',').map((u) => {
    const url = new URL(u);
    if (url.protocol !== 'mqtt:') throw new SluiceError('SLUICE_SIM_URL', `--url ${u}: only mqtt:// is supported by the simulator; use the gateway's plain TCP listener`);
    return { host: url.hostname, port: Number(url.port || 1883) };
  });
  const loopback = gateways.every((g) => g.host === 'localhost' || g.host.startsWith('127.'));
  const startedAt = new Date();
  const t0 = performance.now();
  const latency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
  const stats = { messages: 0, readings: 0, duplicates: 0, malformed: 0, resent: 0, bytes: 0, acked: 0, reconnects: 0, failed: 0, peak: 0, connected: 0 };
  const rejected: Record<string, number> = Object.fromEntries(MALFORMED_KINDS.map((k) => [k, 0]));
  let phase: SimulationProgress['phase'] = 'connecting';
  let stopping = false;

  // The plan's event times start when sending starts, unless the caller fixed them.
  let plan = new FleetPlan(options, options.startTime ?? 0);
  const devices: DeviceConnection[] = [];
  const reconnect = (d: number, attempt = 1): void => {
    if (stopping) return;
    // With several gateways, a device that lost its connection tries the next one (what a
    // device behind a load balancer sees): its unacknowledged publishes go there, flagged dup.
    if (gateways.length > 1) devices[d]!.moveTo(gateways[(d + stats.reconnects + attempt) % gateways.length]!);
    devices[d]!.open().then(
      () => {
        stats.reconnects++;
        stats.connected++;
        stats.peak = Math.max(stats.peak, stats.connected);
      },
      () => setTimeout(() => reconnect(d, attempt + 1), Math.min(2000, 50 * 2 ** attempt)).unref(),
    );
  };
  for (let d = 0; d < options.devices; d++) {
    const id = plan.deviceId(d);
    devices.push(
      new DeviceConnection(
        {
          ...gateways[d % gateways.length]!,
          // 127.0.0.1–16 as source addresses: 16 × the ephemeral port range for big fleets.
          localAddress: loopback ? `127.0.0.${1 + (d % 16)}` : undefined,
          clientId: id,
          password: hooks.password?.(id) ?? (options.fleetKey === undefined ? undefined : createHmac('sha256', options.fleetKey).update(id).digest('hex')),
          qos: options.qos,
          inflight: options.inflight,
        },
        {
          acked: (ms) => {
            stats.acked++;
            latency.recordValue(Math.max(1, Math.round(ms * 1000)));
          },
          dropped: () => {
            stats.connected--;
            setTimeout(() => reconnect(d), 100).unref();
          },
          resent: () => stats.resent++,
        },
      ),
    );
  }

  let lastProgress = { at: t0, readings: 0 };
  const report = (): void => {
    const now = performance.now();
    const rate = ((stats.readings - lastProgress.readings) * 1000) / Math.max(1, now - lastProgress.at);
    lastProgress = { at: now, readings: stats.readings };
    hooks.progress?.({ phase, elapsedMs: now - t0, connected: stats.connected, sent: stats.messages, acknowledged: stats.acked, malformed: stats.malformed, resent: stats.resent, readingsPerSecond: rate });
  };
  const ticker = setInterval(report, 500);

  try {
    // Connect the fleet.
    let firstRefusal: unknown;
    let nextDevice = 0;
    await Promise.all(
      Array.from({ length: Math.min(CONNECT_CONCURRENCY, devices.length) }, async () => {
        while (nextDevice < devices.length) {
          const d = nextDevice++;
          try {
            await devices[d]!.open();
            stats.connected++;
            stats.peak = Math.max(stats.peak, stats.connected);
          } catch (err) {
            stats.failed++;
            firstRefusal ??= err;
          }
        }
      }),
    );
    // A refusal (CONNACK) says what the broker objected to; anything else means nothing answered.
    if (stats.connected === 0) throw firstRefusal instanceof SluiceError ? firstRefusal : new GatewayUnreachableError(options.url, firstRefusal);
    // Devices that failed to connect still get their messages queued and retry in the background.
    for (let d = 0; d < devices.length; d++) if (!devices[d]!.isConnected) reconnect(d);

    await hooks.connected?.(stats.connected);
    await hooks.beforeSending?.();

    // Send on schedule.
    phase = 'sending';
    const sendStart = performance.now();
    if (options.startTime === undefined) plan = new FleetPlan(options, Date.now());
    const churn = startChurn(options, devices);
    const names = Array.from({ length: options.devices }, (_, d) => plan.metricNames(d));
    const ids = Array.from({ length: options.devices }, (_, d) => plan.deviceId(d));
    const topics = ids.map((id) => `devices/${id}/telemetry`);
    const messages = Array.from({ length: options.devices }, (_, d) => plan.messagesOf(d));
    const n = options.devices;
    let g = 0; // global position: round k = floor(g / n), device order[g % n]
    const rounds = Math.max(...messages);
    // Offline devices hold their messages and send them all on their return (store and forward).
    const offline = Array.from({ length: n }, (_, d) => plan.offline(d));
    const receipts = Array.from({ length: n }, (_, d) => plan.backlogReceipt(d));
    const held = new Map<number, [topic: string, payload: Buffer, onAcked: (() => void) | undefined][]>();
    const flushHeld = (elapsed: number): void => {
      for (const [d, list] of held) {
        if (elapsed < offline[d]!.to) continue;
        for (const [topic, payload, onAcked] of list) devices[d]!.send(topic, payload, onAcked);
        held.delete(d);
      }
    };
    // Buffered readings the model counted as within maxBackfill whose message reached the
    // gateway too late for that to be sure (see FleetPlan.silent).
    let undecided = 0;
    await new Promise<void>((resolve) => {
      const turn = (): void => {
        const elapsed = performance.now() - sendStart;
        const budgetEnd = performance.now() + TURN_BUDGET_MS;
        if (held.size > 0) flushHeld(elapsed);
        while (g < rounds * n) {
          const k = Math.floor(g / n);
          const d = plan.order[g % n]!;
          if (k >= messages[d]!) {
            g++; // this device is done: nothing to wait for
            continue;
          }
          const due = plan.sendOffset(d, k);
          if (due > elapsed || performance.now() > budgetEnd) break;
          g++;
          if (plan.silent(d, k)) continue;
          const m = plan.message(d, k);
          const away = offline[d];
          const isHeld = away !== undefined && due >= away.from && due < away.to;
          let onAcked: (() => void) | undefined;
          if (m.malformed === undefined) {
            hooks.expected.message?.(ids[d]!, isHeld ? receipts[d] : undefined);
            for (let j = 0; j < m.time.length; j++) hooks.expected.add(ids[d]!, names[d]![m.metric[j]!]!, m.time[j]!, m.value[j]!);
            stats.readings += m.time.length;
            if (isHeld) {
              // Counted within maxBackfill only if the gateway gets it before its oldest reading is that old.
              const oldest = Math.min(...m.time);
              const deadline = oldest + options.maxBackfill;
              if (deadline >= receipts[d]!.to) onAcked = () => void (Date.now() > deadline && (undecided += m.time.length));
            }
          }
          const encoded = encodeMessage(m, names[d]!, options.shape);
          const topic = encoded.json ? `${topics[d]}/json` : topics[d]!;
          const copies = m.duplicate ? 2 : 1;
          if (m.malformed !== undefined) {
            stats.malformed++;
            rejected[m.malformed]! += copies; // the gateway refuses each copy
          }
          if (isHeld) {
            let list = held.get(d);
            if (list === undefined) held.set(d, (list = []));
            for (let c = 0; c < copies; c++) list.push([topic, encoded.payload, c === 0 ? onAcked : undefined]);
          } else {
            for (let c = 0; c < copies; c++) devices[d]!.send(topic, encoded.payload);
          }
          stats.messages++;
          stats.duplicates += copies - 1;
          stats.bytes += encoded.payload.length * copies;
        }
        // Every later reading is stamped at or after this (its send time, less the sampling interval and the largest delay).
        hooks.expected.advance(plan.startMs + plan.sendOffset(plan.order[g % n]!, Math.floor(g / n)) - plan.intervalMs - options.maxDelay - 1);
        if (g >= rounds * n) {
          flushHeld(Infinity); // still away when sending ends: back now
          return resolve();
        }
        setTimeout(turn, 1);
      };
      turn();
    });
    churn.stop();

    // Wait for the last acknowledgements.
    phase = 'draining';
    if (options.qos === 1) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, options.drainTimeout)));
      await Promise.race([Promise.all(devices.map((dev) => dev.idle())), timeout]);
      clearTimeout(timer);
    }
    const durationMs = performance.now() - sendStart;
    stopping = true;
    for (const dev of devices) dev.close();
    return {
      version: REPORT_VERSION,
      seed: options.seed,
      options: { ...options, fleetKey: options.fleetKey === undefined ? undefined : '(hidden)', startTime: plan.startMs },
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(durationMs),
      sent: { messages: stats.messages, readings: stats.readings, duplicates: stats.duplicates, malformed: stats.malformed, resent: stats.resent, bytes: stats.bytes },
      acknowledged: stats.acked,
      rejected,
      throughput: { messagesPerSecond: (stats.messages * 1000) / durationMs, readingsPerSecond: (stats.readings * 1000) / durationMs },
      latencyMs: {
        count: latency.totalCount,
        p50: latency.getValueAtPercentile(50) / 1000,
        p90: latency.getValueAtPercentile(90) / 1000,
        p99: latency.getValueAtPercentile(99) / 1000,
        max: latency.maxValue / 1000,
      },
      connections: { peak: stats.peak, reconnects: stats.reconnects, failed: stats.failed },
      expected: undecided === 0 ? hooks.expected.result() : { ...hooks.expected.result(), undecided },
    };
  } finally {
    stopping = true;
    clearInterval(ticker);
    report();
    for (const dev of devices) dev.close();
  }
}

/** Drops `churn` connections a minute, chosen from the seed, while the run sends. */
function startChurn(options: SimulationOptions, devices: DeviceConnection[]): { stop(): void } {
  if (options.churn <= 0) return { stop: () => undefined };
  const rng = xoroshiro128plus(options.seed ^ 0x5eed);
  const timer = setInterval(() => devices[Math.floor(uniformFloat64(rng) * devices.length)]!.drop(), 60_000 / options.churn);
  return { stop: () => clearInterval(timer) };
}
