/**
 * `npm run bench:sink`: how many points a second the InfluxDB sink writes to a real influxd
 * 1.x, through the path a processor uses: createNodeSink's emit → InfluxSink → InfluxWriter.
 * Two shapes, 10 000 devices × 5 metrics each:
 * - raw: one point per reading (`outputs.raw`), measurement `readings`, one float field;
 * - window: one point per window, count plus 10 float aggregates, as windowPoint builds it.
 * A first, untimed tick creates the series. Points are built the way the emitters build them (a fresh tags and fields object per
 * point) and their building is counted in Sluice's CPU. Each run goes to a fresh database,
 * and afterwards a count query must find exactly the points emitted, so a run that lost or
 * merged a point fails the bench.
 *
 * Each run is a child process (its own heap and JIT, its own CPU count). BENCH_BASELINE
 * names another build's dist/ directory (e.g. main's): its runs interleave with this
 * build's, round by round, so both see the same machine. Prints medians per shape and build:
 * points/s sustained (first emit to last point durable), Sluice CPU s per M points, influxd
 * CPU s per M points, and Sluice's CPU in a run whose batches are joined and dropped instead
 * of sent (free of HTTP and of influxd's share of the cores). BENCH_ROUNDS (3), BENCH_TICKS_RAW (6), BENCH_TICKS_WINDOW (1: influxd 1.x takes window points slowly),
 * BENCH_INFLIGHT and BENCH_BATCH (the influx.* defaults), BENCH_SHAPES (raw,window),
 * BENCH_PROF (a directory: children write --cpu-prof profiles there). Needs Debian's influxd.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findInfluxd } from '../cli/demo/influxd-install.js';
import { LocalInfluxd } from '../cli/demo/local-influxd.js';
import { cpuSecondsOf } from './proc-usage.js';

const DEVICES = 10_000;
const METRICS = ['temperature', 'humidity', 'pressure', 'voltage', 'rssi'];
const AGGREGATES = ['sum', 'min', 'max', 'mean', 'first', 'last', 'stddev', 'p50', 'p90', 'p99'];
const BASE_TIME = 1_700_000_000_000;

type Shape = 'raw' | 'window';

/** What a child sends back: its own measurements of one run. */
interface ChildResult {
  /** influxd's CPU over the timed ticks (0 when the batches were not sent). */
  influxdCpuSeconds: number;
  /** Points of the timed ticks. */
  points: number;
  /** Every point, the untimed first tick's too: what InfluxDB must hold. */
  emitted: number;
  seconds: number;
  cpuSeconds: number;
}

interface RunResult extends ChildResult {
  build: string;
  shape: Shape;
  stored: number;
}

interface ChildSpec {
  root: string;
  shape: Shape;
  ticks: number;
  url: string;
  database: string;
  maxInflightRequests?: number;
  batchSize?: number;
  /** influxd's pid, to read its CPU over the timed ticks only. */
  influxdPid?: number;
  /** The sink's batches are joined into request bodies and dropped, not sent: Sluice's CPU without HTTP and influxd's share of the cores. */
  emitOnly?: boolean;
}

/** The child: emits every point of one shape through `root`'s node sink and reports its time and CPU. */
async function child(spec: ChildSpec): Promise<void> {
  const { root } = spec;
  const { createNodeSink } = (await import(join(root, 'processors/node-sink.js'))) as typeof import('../processors/node-sink.js');
  const { createProcessorMetrics } = (await import(join(root, 'processors/metrics.js'))) as typeof import('../processors/metrics.js');
  const { influxConfigSchema } = (await import(join(root, 'processors/sink/config.js'))) as typeof import('../processors/sink/config.js');
  const { createLogger } = (await import(join(root, 'core/logger.js'))) as typeof import('../core/logger.js');
  const { Registry } = await import('prom-client');
  const influx = influxConfigSchema.parse({
    url: spec.url,
    database: spec.database,
    ...(spec.maxInflightRequests === undefined ? {} : { maxInflightRequests: spec.maxInflightRequests }),
    ...(spec.batchSize === undefined ? {} : { batchSize: spec.batchSize }),
  });
  const out = createNodeSink({ influx } as Parameters<typeof createNodeSink>[0], createProcessorMetrics(new Registry()), createLogger('bench-sink', 'warn'));
  if (spec.emitOnly) {
    // The sink holds this writer object: replacing its method reroutes every batch.
    out.writer.write = (lines) => Promise.resolve(void lines.join('\n'));
  } else {
    await out.writer.ensureDatabase();
  }
  out.sink.start();
  const devices = Array.from({ length: DEVICES }, (_, d) => `sensor-${String(d).padStart(5, '0')}`);
  let points = 0;
  let timed = 0;
  let cpu0 = process.cpuUsage();
  let influx0 = 0;
  let t0 = performance.now();
  // Tick 0 creates the series and is not timed: a running processor writes to series
  // InfluxDB has, and creating 50 000 series (550 000 series-fields for windows) costs
  // influxd 1.x many times what a write to them does.
  for (let tick = 0; tick <= spec.ticks; tick++) {
    if (tick === 1) {
      await out.sink.flush();
      timed = points;
      cpu0 = process.cpuUsage();
      influx0 = spec.influxdPid === undefined ? 0 : cpuSecondsOf(spec.influxdPid);
      t0 = performance.now();
    }
    for (let d = 0; d < DEVICES; d++) {
      for (let m = 0; m < METRICS.length; m++) {
        const i = points++;
        // As points.ts builds them: a fresh tags object (parseTagSet, then device and metric) and fields object per point.
        const tags: Record<string, string> = { site: 'north-yard' };
        tags.device = devices[d]!;
        tags.metric = METRICS[m]!;
        if (spec.shape === 'raw') {
          // Sensor-like values: two decimals.
          out.emit({ measurement: 'readings', tags, fields: { value: Math.round(Math.sin(i) * 10_000) / 100 }, timeMs: BASE_TIME + tick * 1000 }, d % 8);
        } else {
          // Aggregates are full-precision doubles, the costly case for float formatting.
          const fields: Record<string, number | { int: number }> = { count: { int: 10 + (i % 7) } };
          for (let f = 0; f < AGGREGATES.length; f++) fields[AGGREGATES[f]!] = Math.sin(i * 0.37 + f) * 100;
          out.emit({ measurement: 'telemetry_10s', tags, fields, timeMs: BASE_TIME + tick * 10_000 }, d % 8);
        }
        // As ProcessorNode does: a full sink stops the tasks and the due checkpoint flushes.
        if (out.sink.saturated) await out.sink.flush();
      }
      // A task step ends every few hundred readings; let the writer's I/O run between steps.
      if (d % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
    }
  }
  await out.sink.flush();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const influxdCpuSeconds = spec.influxdPid === undefined ? 0 : cpuSecondsOf(spec.influxdPid) - influx0;
  await out.sink.close();
  out.writer.close();
  const result: ChildResult = { points: points - timed, emitted: points, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, influxdCpuSeconds };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}


/** Runs one child and returns what it printed. */
function runChild(spec: ChildSpec, profileDir: string | undefined, label: string): Promise<ChildResult> {
  const args = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${label}-${Date.now()}.cpuprofile`];
  const proc = spawn(process.execPath, [...args, fileURLToPath(import.meta.url), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  return new Promise((resolve, reject) => {
    proc.on('error', reject);
    proc.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`bench child ${label} exited with ${code}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult);
    });
  });
}

/** Points InfluxDB holds in the shape's measurement (one field every point has). */
async function storedPoints(url: string, database: string, shape: Shape): Promise<number> {
  const q = shape === 'raw' ? 'SELECT count("value") FROM "readings"' : 'SELECT count("count") FROM "telemetry_10s"';
  const res = await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ q, db: database }) });
  const body = (await res.json()) as { results?: { series?: { values: unknown[][] }[]; error?: string }[] };
  const value = body.results?.[0]?.series?.[0]?.values[0]?.[1];
  return typeof value === 'number' ? value : 0;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!;

async function main(): Promise<void> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const ticks: Record<Shape, number> = { raw: Number(process.env.BENCH_TICKS_RAW ?? 6), window: Number(process.env.BENCH_TICKS_WINDOW ?? 1) };
  const shapes = (process.env.BENCH_SHAPES ?? 'raw,window').split(',') as Shape[];
  const here = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const builds: [string, string][] = [['this', here]];
  if (process.env.BENCH_BASELINE !== undefined) builds.unshift(['baseline', resolve(process.env.BENCH_BASELINE)]);
  const profileDir = process.env.BENCH_PROF;
  const tuning = {
    ...(process.env.BENCH_INFLIGHT === undefined ? {} : { maxInflightRequests: Number(process.env.BENCH_INFLIGHT) }),
    ...(process.env.BENCH_BATCH === undefined ? {} : { batchSize: Number(process.env.BENCH_BATCH) }),
  };
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-sink-'));
  const influxd = await LocalInfluxd.start(findInfluxd() ?? '/usr/bin/influxd', join(dir, 'influxdb'));
  const results: RunResult[] = [];
  const emitOnly: { build: string; shape: Shape; microseconds: number }[] = [];
  let lost = false;
  try {
    let n = 0;
    for (let round = 0; round < rounds; round++) {
      for (const shape of shapes) {
        for (const [build, root] of builds) {
          const alone = await runChild({ root, shape, ticks: ticks[shape], url: influxd.url, database: 'unused', emitOnly: true }, undefined, `${build}-${shape}-emit`);
          emitOnly.push({ build, shape, microseconds: (alone.cpuSeconds / alone.points) * 1e6 });
          const database = `bench_${shape}_${n++}`;
          const run = await runChild({ root, shape, ticks: ticks[shape], url: influxd.url, database, influxdPid: influxd.pid!, ...tuning }, profileDir, `${build}-${shape}`);
          const stored = await storedPoints(influxd.url, database, shape);
          if (stored !== run.emitted) lost = true;
          results.push({ ...run, build, shape, stored });
          const rate = Math.round(run.points / run.seconds);
          console.log(`round ${round + 1} ${shape.padEnd(6)} ${build.padEnd(8)} ${rate.toLocaleString('en')} points/s, ${run.cpuSeconds.toFixed(2)} s CPU, influxd ${run.influxdCpuSeconds.toFixed(2)} s; stored ${stored.toLocaleString('en')} of ${run.emitted.toLocaleString('en')}${stored === run.emitted ? '' : '  <-- MISMATCH'}`);
          await fetch(`${influxd.url}/query`, { method: 'POST', body: new URLSearchParams({ q: `DROP DATABASE "${database}"` }) });
        }
      }
    }
    console.log(`\nmedians of ${rounds} rounds (10 000 devices × 5 metrics; raw ${ticks.raw} readings each, window ${ticks.window} windows each, after one untimed):`);
    for (const shape of shapes) {
      const rates: Record<string, number> = {};
      for (const [build] of builds) {
        const runs = results.filter((r) => r.shape === shape && r.build === build);
        const rate = median(runs.map((r) => r.points / r.seconds));
        rates[build] = rate;
        const cpu = median(runs.map((r) => (r.cpuSeconds / r.points) * 1e6));
        const icpu = median(runs.map((r) => (r.influxdCpuSeconds / r.points) * 1e6));
        const alone = median(emitOnly.filter((r) => r.shape === shape && r.build === build).map((r) => r.microseconds));
        console.log(`${shape.padEnd(6)} ${build.padEnd(8)} ${Math.round(rate).toLocaleString('en').padStart(9)} points/s  Sluice ${cpu.toFixed(2)} CPU s per M points (without HTTP ${alone.toFixed(2)})  influxd ${icpu.toFixed(2)} CPU s per M points`);
      }
      if (rates.baseline !== undefined) console.log(`${shape.padEnd(6)} this / baseline: ${(rates.this! / rates.baseline).toFixed(2)}x points/s`);
    }
    if (lost) console.log('\nFAILED: InfluxDB does not hold exactly the points emitted in some run (see MISMATCH above)');
    else console.log('\nevery run: InfluxDB holds exactly the points emitted');
  } finally {
    await influxd.signal('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
  if (lost) process.exitCode = 1;
}

if (process.argv[2] !== undefined) await child(JSON.parse(process.argv[2]) as ChildSpec);
else await main();
