/**
 * `npm run bench:ingest`: the same closed-loop QoS 1 load against a bare aedes broker
 * (no-op hooks) and against the Sluice gateway on a durable FileLog, for single-reading
 * messages and for 100-reading Series batches. Prints msgs/s, readings/s, broker CPU
 * seconds per million readings, broker RSS, and PUBACK latency p50/p99.
 *
 * Options: --duration S (10), --connections N (50), --window N (16 in flight per connection).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import hdr from 'hdr-histogram-js';
import { ReadingBatch } from '../proto/index.js';
import { LoadClient } from './load-client.js';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    window: { type: 'string', default: '16' },
    warmup: { type: 'string', default: '2' },
  },
});
const DURATION_S = Number(args.duration);
const CONNECTIONS = Number(args.connections);
const WINDOW = Number(args.window);
const WARMUP_S = Number(args.warmup);

interface Stats {
  cpuSeconds: number;
  rssBytes: number;
}

interface Result {
  broker: 'bare' | 'sluice';
  scenario: string;
  readingsPerMessage: number;
  msgsPerSecond: number;
  readingsPerSecond: number;
  brokerCpuSecondsPerMillionReadings: number;
  benchCpuSecondsPerMillionReadings: number;
  brokerRssMiB: number;
  pubackP50Ms: number;
  pubackP99Ms: number;
}

function payloadFor(readings: number): Buffer {
  const now = Date.now();
  if (readings === 1) return Buffer.from(ReadingBatch.encode({ seq: 1, readings: [{ metric: 'temperature', timeUnixMs: now, doubleValue: 21.5 }] }).finish());
  return Buffer.from(
    ReadingBatch.encode({
      seq: 1,
      series: [{ metric: 'vibration', startUnixMs: now, timeDeltaMs: Array.from({ length: readings }, (_, i) => i * 10), values: Array.from({ length: readings }, (_, i) => Math.sin(i) * 100) }],
    }).finish(),
  );
}

function request<T>(child: ChildProcess, msg: string): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as T));
    child.send(msg);
  });
}

async function runOne(broker: 'bare' | 'sluice', scenario: string, readingsPerMessage: number): Promise<Result> {
  // BENCH_CPU_PROF=dir writes a V8 CPU profile of the broker process, for finding hot spots.
  const execArgv = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  if (process.env.BENCH_GC) execArgv.push('--expose-gc');
  const child = fork(new URL('./broker-child.js', import.meta.url), [broker], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv, env: { ...process.env, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '4' } });
  const { port } = await new Promise<{ port: number }>((resolve) => child.once('message', (m) => resolve(m as { port: number })));
  const latency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  const payload = payloadFor(readingsPerMessage);
  const clients = await Promise.all(
    Array.from({ length: CONNECTIONS }, (_, i) => LoadClient.open(port, `bench-${i}`, `devices/bench-${i}/telemetry`, payload, WINDOW, latency)),
  );
  for (const c of clients) c.start();
  await new Promise((resolve) => setTimeout(resolve, WARMUP_S * 1000));
  latency.reset();
  const ackedBefore = clients.reduce((n, c) => n + c.acked, 0);
  const before = await request<Stats>(child, 'stats');
  const benchBefore = process.cpuUsage();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, DURATION_S * 1000));
  const elapsed = (performance.now() - started) / 1000;
  const acked = clients.reduce((n, c) => n + c.acked, 0) - ackedBefore;
  const after = await request<Stats>(child, 'stats');
  const benchCpu = process.cpuUsage(benchBefore);
  for (const c of clients) c.stop();
  for (const c of clients) c.close();
  child.send('stop');
  await new Promise((resolve) => child.once('exit', resolve));

  const readings = acked * readingsPerMessage;
  return {
    broker,
    scenario,
    readingsPerMessage,
    msgsPerSecond: Math.round(acked / elapsed),
    readingsPerSecond: Math.round(readings / elapsed),
    brokerCpuSecondsPerMillionReadings: +(((after.cpuSeconds - before.cpuSeconds) / readings) * 1e6).toFixed(3),
    benchCpuSecondsPerMillionReadings: +((((benchCpu.user + benchCpu.system) / 1e6) / readings) * 1e6).toFixed(3),
    brokerRssMiB: Math.round(after.rssBytes / 2 ** 20),
    pubackP50Ms: latency.getValueAtPercentile(50) / 1000,
    pubackP99Ms: latency.getValueAtPercentile(99) / 1000,
  };
}

const results: Result[] = [];
const only = process.env.BENCH_ONLY; // e.g. "sluice" or "qos1-series-100"
for (const [scenario, readings] of [['qos1-single-reading', 1], ['qos1-series-100', 100]] as const) {
  for (const broker of ['bare', 'sluice'] as const) {
    if (only && only !== broker && only !== scenario) continue;
    process.stderr.write(`running ${scenario} against ${broker} (${CONNECTIONS} connections × ${WINDOW} in flight, ${DURATION_S}s)…\n`);
    results.push(await runOne(broker, scenario, readings));
  }
}
console.table(results);
for (const scenario of ['qos1-single-reading', 'qos1-series-100']) {
  const bare = results.find((r) => r.scenario === scenario && r.broker === 'bare');
  const sluice = results.find((r) => r.scenario === scenario && r.broker === 'sluice');
  if (!bare || !sluice) continue;
  process.stdout.write(`${scenario}: sluice/bare msgs/s = ${(sluice.msgsPerSecond / bare.msgsPerSecond).toFixed(2)}\n`);
}
await mkdir(new URL('../../bench/results/', import.meta.url), { recursive: true });
const file = new URL(`../../bench/results/ingest-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url);
await writeFile(file, JSON.stringify({ connections: CONNECTIONS, window: WINDOW, durationSeconds: DURATION_S, results }, null, 2));
process.stdout.write(`written ${file.pathname}\n`);
