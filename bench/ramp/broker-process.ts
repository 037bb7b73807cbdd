import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SERVER_NODE_FLAGS } from '../../cli/node-flags.js';
import { SluiceError } from '../../core/index.js';
import { threadCpuSecondsOf } from '../proc-usage.js';
import { PROCESSOR_CHECKPOINT_INTERVAL } from './options.js';

/** The compiled CLI and the bare-broker child, next to this file in dist/. */
const CLI = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
const BROKER_CHILD = fileURLToPath(new URL('../broker-child.js', import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;
/** Lines of the child's output kept for an error message. */
const KEEP_LINES = 200;

/** What the bench reads from the broker process between and during steps. */
export interface BrokerSample {
  /** User + system CPU seconds of the whole process (all its threads) since it started. */
  cpuSeconds: number;
  /** User + system CPU seconds of its main thread (Linux; the gateway's thread in Sluice, which takes every socket). */
  mainThreadCpuSeconds?: number;
  rssBytes: number;
  /** Gateway only: readings durably appended to the log (sluice_gateway_readings_total). */
  loggedReadings?: number;
  /** Gateway only: telemetry payloads received (sluice_gateway_messages_total). */
  gatewayMessages?: number;
  /** Gateway only: sluice_gateway_log_append_seconds as cumulative bucket counts by upper bound (seconds, Infinity last). */
  appendBuckets?: [number, number][];
  /** Gateway only: sluice_gateway_puback_seconds (arrival to PUBACK release inside the process), as appendBuckets. */
  pubackBuckets?: [number, number][];
  /** With processors: device messages the processors have read from the log (sluice_processor_messages_total, added at each checkpoint). */
  processorMessages?: number;
  /** With processors: the sum over partitions of sluice_processor_lag_records (a thread updates its partitions' gauges when it is idle). */
  lagRecords?: number;
  /** With processors: checkpoints completed, all processor threads together (sluice_processor_checkpoint_seconds_count). */
  checkpoints?: number;
}

/** A broker under test in its own process. */
export interface BrokerProcess {
  readonly kind: 'sluice' | 'bare-aedes' | 'mosquitto';
  /** How it was started, for the report. */
  readonly command: string;
  readonly processors: boolean;
  readonly mqttUrl: string;
  sample(): Promise<BrokerSample>;
  /** Non-null once the process has exited. */
  exitCode(): number | string | null;
  /** The child's last output lines. */
  output(): string[];
  stop(): Promise<void>;
}

export interface SluiceProcessOptions {
  /** With it: `sluice start`, processors writing to this InfluxDB. Without: `sluice gateway`. */
  influxUrl?: string;
  /** The user's --config and --set, passed on; the bench's own settings come after and win. */
  configFile?: string;
  sets?: string[];
  /** More of the bench's own settings (the verify mode's: database, idle timeout, flush interval), after the user's. */
  extraSets?: string[];
  /** Parent of the temp data dir (default: the OS temp dir). */
  dataParent?: string;
  /**
   * With processors: their `checkpoint.interval`; default PROCESSOR_CHECKPOINT_INTERVAL (the ramp's
   * lag check reads a counter added at checkpoints); undefined keeps the config's own.
   */
  checkpointInterval?: string | undefined;
  /** With it: the process runs under `node --cpu-prof` and writes its threads' profiles here when it exits. */
  cpuProfDir?: string;
  /** More node flags for the process (`--trace-gc`, `--max-semi-space-size=64`, `--require …`), after Sluice's own. */
  nodeArgs?: string[];
}

/**
 * Starts `sluice gateway` (or `sluice start` with processors) as a child process on free
 * ports, anonymous auth, no per-device rate limit and a fresh data dir (processors: a
 * checkpoint every second unless `checkpointInterval` says otherwise), and resolves once it logged 'sluice ready'. Samples come from its Prometheus /metrics.
 */
export async function startSluiceProcess(o: SluiceProcessOptions): Promise<BrokerProcess> {
  const dataDir = await mkdtemp(join(o.dataParent ?? tmpdir(), 'sluice-bench-'));
  const processors = o.influxUrl !== undefined;
  const role = processors ? 'start' : 'gateway';
  const own = [`dataDir=${dataDir}`, 'mqtt.host=127.0.0.1', 'mqtt.port=0', 'http.host=127.0.0.1', 'http.port=0', 'auth.mode=anonymous', 'limits.messagesPerSecond=0', 'limits.readingsPerSecond=0', 'limits.bytesPerSecond=0'];
  if (processors) own.push(`influx.url=${o.influxUrl}`);
  const interval = 'checkpointInterval' in o ? o.checkpointInterval : PROCESSOR_CHECKPOINT_INTERVAL;
  if (processors && interval !== undefined) own.push(`checkpoint.interval=${interval}`);
  own.push(...(o.extraSets ?? []));
  const node = [...SERVER_NODE_FLAGS, ...(o.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`]), ...(o.nodeArgs ?? [])];
  const args = [...node, CLI, role, ...(o.configFile ? ['--config', o.configFile] : []), ...[...(o.sets ?? []), ...own].flatMap((s) => ['--set', s])];
  // JSON logs whatever this process was given (a terminal makes the CLI pass pretty on in
  // SLUICE_LOG_FORMAT): the ready line is parsed below.
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SLUICE_LOG_FORMAT: 'json' } });
  let onLine = (_line: string): void => undefined;
  const lines = keepLines(child, (line) => onLine(line));
  const ports = await new Promise<{ mqtt: number; http: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(failure(`sluice ${role} was not ready after ${READY_TIMEOUT_MS / 1000} s`, lines)), READY_TIMEOUT_MS);
    onLine = (line) => {
      if (!line.includes('sluice ready')) return;
      clearTimeout(timer);
      onLine = () => undefined;
      resolve((JSON.parse(line) as { ports: { mqtt: number; http: number } }).ports);
    };
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(failure(`sluice ${role} exited with ${code} before it was ready`, lines));
    });
  }).catch(async (err: unknown) => {
    child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  });
  const metricsUrl = `http://127.0.0.1:${ports.http}/metrics`;
  return {
    kind: 'sluice',
    command: `sluice ${role}${processors ? ` (processors → ${o.influxUrl})` : ''}`,
    processors,
    mqttUrl: `mqtt://127.0.0.1:${ports.mqtt}`,
    async sample() {
      const res = await fetch(metricsUrl);
      if (!res.ok) throw failure(`GET ${metricsUrl} answered ${res.status}`, lines);
      const text = await res.text();
      const sample: BrokerSample = {
        cpuSeconds: metricSum(text, 'sluice_process_cpu_seconds_total') ?? NaN,
        mainThreadCpuSeconds: threadCpuSecondsOf(child.pid!),
        rssBytes: metricSum(text, 'sluice_process_resident_memory_bytes') ?? NaN,
        loggedReadings: metricSum(text, 'sluice_gateway_readings_total'),
        gatewayMessages: metricSum(text, 'sluice_gateway_messages_total'),
        appendBuckets: histogramBuckets(text, 'sluice_gateway_log_append_seconds'),
        pubackBuckets: histogramBuckets(text, 'sluice_gateway_puback_seconds'),
      };
      if (processors) {
        sample.processorMessages = metricSum(text, 'sluice_processor_messages_total') ?? 0;
        sample.lagRecords = metricSum(text, 'sluice_processor_lag_records') ?? 0;
        sample.checkpoints = metricSum(text, 'sluice_processor_checkpoint_seconds_count') ?? 0;
      }
      return sample;
    },
    exitCode: () => child.exitCode ?? child.signalCode,
    output: () => [...lines],
    async stop() {
      await stopChild(child, () => child.kill('SIGTERM'));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts a bare aedes broker (bench/broker-child.ts, no hooks, no persistence) in its
 * own process; samples are its process.cpuUsage() and RSS over IPC.
 */
export async function startBareAedes(): Promise<BrokerProcess> {
  const child = fork(BROKER_CHILD, ['bare'], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const lines = keepLines(child);
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(failure(`bare aedes exited with ${code} before it was ready`, lines)));
  });
  // One IPC request at a time: answers carry no id.
  let queue: Promise<unknown> = Promise.resolve();
  const stats = (): Promise<{ cpuSeconds: number; rssBytes: number }> => {
    const next = queue.then(
      () =>
        new Promise<{ cpuSeconds: number; rssBytes: number }>((resolve, reject) => {
          if (child.exitCode !== null || child.signalCode !== null) return reject(failure('bare aedes has exited', lines));
          child.once('message', (m) => resolve(m as { cpuSeconds: number; rssBytes: number }));
          child.send('stats');
        }),
    );
    queue = next.catch(() => undefined);
    return next;
  };
  return {
    kind: 'bare-aedes',
    command: 'bench/broker-child.js bare (aedes, no hooks)',
    processors: false,
    mqttUrl: `mqtt://127.0.0.1:${port}`,
    sample: async () => ({ ...(await stats()), mainThreadCpuSeconds: threadCpuSecondsOf(child.pid!) }),
    exitCode: () => child.exitCode ?? child.signalCode,
    output: () => [...lines],
    stop: () => stopChild(child, () => child.send('stop')),
  };
}

/**
 * The sum of every sample of metric `name` in Prometheus text format (all label sets),
 * or undefined when the metric has no sample.
 */
export function metricSum(text: string, name: string): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const next = line[name.length];
    if (next !== ' ' && next !== '{') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum = (sum ?? 0) + value;
  }
  return sum;
}

/** A Prometheus histogram's cumulative buckets, [upper bound, count], by bound (label sets added up). */
export function histogramBuckets(text: string, name: string): [number, number][] {
  const byBound = new Map<number, number>();
  const prefix = `${name}_bucket{`;
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    byBound.set(bound, (byBound.get(bound) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return [...byBound].sort((a, b) => a[0] - b[0]);
}

/** The upper bound of the bucket holding quantile q of the observations between two samples of a histogram (undefined: none). */
export function bucketQuantile(before: [number, number][] | undefined, after: [number, number][] | undefined, q: number): number | undefined {
  if (!after?.length) return undefined;
  const base = new Map(before ?? []);
  const counts = after.map(([bound, n]) => [bound, n - (base.get(bound) ?? 0)] as const);
  const total = counts[counts.length - 1]![1];
  if (total <= 0) return undefined;
  return counts.find(([, n]) => n >= q * total)![0];
}

/** Keeps the child's last output lines (stdout and stderr), and hands each to `onLine`. */
function keepLines(child: ChildProcess, onLine?: (line: string) => void): string[] {
  const lines: string[] = [];
  const keep = (line: string): void => {
    onLine?.(line);
    lines.push(line);
    if (lines.length > KEEP_LINES) lines.shift();
  };
  createInterface({ input: child.stdout! }).on('line', keep);
  createInterface({ input: child.stderr! }).on('line', keep);
  return lines;
}

function failure(message: string, lines: string[]): SluiceError {
  return new SluiceError('SLUICE_BENCH_BROKER_FAILED', `${message}${lines.length ? `:\n${lines.slice(-30).join('\n')}` : ''}`);
}

/** Asks the child to stop, waits for it, and kills it if it takes too long. */
async function stopChild(child: ChildProcess, ask: () => void): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  ask();
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
