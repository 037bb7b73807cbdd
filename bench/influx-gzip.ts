/**
 * `npm run bench:influx-gzip`: what influx.contentEncoding costs and saves. Writes the same
 * window points (the processors' field set, 1000 devices) to a real influxd 1.x through
 * InfluxWriter, with `identity` and with `gzip`, alternating, each on a fresh database, and
 * prints per mode the body bytes, this process's CPU (gzip runs on libuv's threadpool,
 * which process.cpuUsage counts) and influxd's CPU (/proc/<pid>/stat), as medians.
 * Needs Debian's influxd.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { findInfluxd } from '../cli/demo/influxd-install.js';
import { LocalInfluxd } from '../cli/demo/local-influxd.js';
import { cpuSecondsOf } from './proc-usage.js';
import { influxConfigSchema, InfluxWriter, toLineProtocol } from '../processors/index.js';

const POINTS = Number(process.env.BENCH_POINTS ?? 100_000);
const BATCH = 5000;
const RUNS = 3;
const FIELDS = ['sum', 'min', 'max', 'mean', 'first', 'last', 'stddev', 'p50', 'p90', 'p99'];

/** The batches of line protocol the processors would write for POINTS window points. */
function batches(): string[][] {
  const lines: string[] = [];
  for (let i = 0; i < POINTS; i++) {
    const fields: Record<string, number | { int: number }> = { count: { int: 10 + (i % 7) } };
    FIELDS.forEach((name, f) => (fields[name] = Math.sin(i * 0.37 + f) * 100 + (i % 13) * 0.001));
    lines.push(toLineProtocol({ measurement: 'telemetry_10s', tags: { device: `sensor-${String(i % 1000).padStart(5, '0')}`, metric: 'temperature', site: 'north-yard' }, fields, timeMs: 1_700_000_000_000 + Math.floor(i / 1000) * 10_000 }));
  }
  const out: string[][] = [];
  for (let i = 0; i < lines.length; i += BATCH) out.push(lines.slice(i, i + BATCH));
  return out;
}


async function run(influxd: LocalInfluxd, encoding: 'gzip' | 'identity', data: string[][], n: number) {
  const config = influxConfigSchema.parse({ url: influxd.url, database: `bench_${encoding}_${n}`, contentEncoding: encoding });
  const writer = new InfluxWriter(config, { onBadPoint: (line, message) => console.error(`bad point ${line}: ${message}`) });
  await writer.ensureDatabase();
  const cpu0 = process.cpuUsage();
  const influx0 = cpuSecondsOf(influxd.pid!);
  const t0 = performance.now();
  // Two requests in flight, as influx.maxInflightRequests does by default.
  let next = 0;
  await Promise.all([0, 1].map(async () => {
    while (next < data.length) await writer.write(data[next++]!);
  }));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const influx = cpuSecondsOf(influxd.pid!) - influx0;
  writer.close();
  return { seconds, sluiceCpu: (cpu.user + cpu.system) / 1e6, influxdCpu: influx };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-gzip-'));
  const influxd = await LocalInfluxd.start(findInfluxd() ?? '/usr/bin/influxd', join(dir, 'influxdb'));
  try {
    const data = batches();
    const raw = data.reduce((sum, b) => sum + Buffer.byteLength(b.join('\n')), 0);
    const gz = data.reduce((sum, b) => sum + gzipSync(b.join('\n')).length, 0);
    console.log(`${POINTS.toLocaleString('en')} window points in ${data.length} requests of ${BATCH}: identity ${(raw / 1e6).toFixed(1)} MB, gzip ${(gz / 1e6).toFixed(1)} MB (${(raw / gz).toFixed(1)}x smaller)`);
    const results: Record<string, { seconds: number; sluiceCpu: number; influxdCpu: number }[]> = { identity: [], gzip: [] };
    for (let n = 0; n < RUNS; n++) {
      for (const encoding of ['identity', 'gzip'] as const) results[encoding]!.push(await run(influxd, encoding, data, n));
    }
    for (const [encoding, runs] of Object.entries(results)) {
      const m = (key: 'seconds' | 'sluiceCpu' | 'influxdCpu') => median(runs.map((r) => r[key])).toFixed(2);
      console.log(`${encoding.padEnd(8)} wall ${m('seconds')} s, sluice CPU ${m('sluiceCpu')} s, influxd CPU ${m('influxdCpu')} s (median of ${RUNS})`);
    }
  } finally {
    await influxd.signal('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
