/**
 * `npm run bench:checkpoint-stall`: does a large checkpoint stall ingest? The gateway's
 * event loop is the main thread; this measures its longest stall (monitorEventLoopDelay)
 * while full checkpoints of one partition holding `keys` (device, metric) keys are taken
 * (a) by a processor worker thread, as `sluice start` runs them, and (b) on the main
 * thread, as before processors had threads. Needs Debian's influxd (the pre-commit
 * flushes the sink into a real InfluxDB).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { findInfluxd } from '../cli/demo/influxd-install.js';
import { LocalInfluxd } from '../cli/demo/local-influxd.js';
import { createLogger } from '../core/index.js';
import { FileLog } from '../log/index.js';
import { LocalCheckpointStore, ProcessorNode, ProcessorPool, processorConfigSchema, type ProcessorConfig } from '../processors/index.js';
import { fill, METRICS } from './fill-log.js';

const KEYS = Number(process.env.BENCH_KEYS ?? 1_000_000);
const CHECKPOINTS = 3;

/** Runs until `checkpoints` checkpoints completed after the state was built; returns the main thread's stalls meanwhile. */
async function measure(label: string, run: (onCheckpoint: () => void) => Promise<{ stop(): Promise<void> }>): Promise<void> {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  let done = 0;
  let resolveDone!: () => void;
  const finished = new Promise<void>((resolve) => (resolveDone = resolve));
  const t0 = performance.now();
  const running = await run(() => {
    done++;
    if (done === 1) delay.enable(); // the first checkpoint may still overlap building the state
    if (done === CHECKPOINTS + 1) resolveDone();
  });
  await finished;
  delay.disable();
  await running.stop();
  const ms = (ns: number): string => (ns / 1e6).toFixed(1);
  console.log(`${label}: ${CHECKPOINTS} full checkpoints of ${KEYS.toLocaleString('en')} keys in ${((performance.now() - t0) / 1000).toFixed(1)} s; main-thread event loop stall max ${ms(delay.max)} ms, p99 ${ms(delay.percentile(99))} ms, mean ${ms(delay.mean)} ms`);
}

async function run(): Promise<void> {
  const bin = findInfluxd();
  if (!bin) throw new Error('influxd is not installed: npm run setup');
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-stall-'));
  const influxd = await LocalInfluxd.start(bin, join(dir, 'influxdb'));
  const logger = createLogger('bench', 'warn');
  try {
    const config = (threads: number): ProcessorConfig =>
      processorConfigSchema.parse({
        processors: { threads },
        influx: { url: influxd.url, database: 'stall' },
        // Windows stay open (no idle advance), so every checkpoint holds every key; always full: the worst case.
        time: { idleTimeout: '1h' },
        checkpoint: { interval: '2s', fullEvery: 1, keep: 2 },
      });
    for (const mode of ['worker thread', 'main thread'] as const) {
      const dataDir = join(dir, mode.replace(' ', '-'));
      const log = await FileLog.open({ dir: join(dataDir, 'log'), partitions: 1, fsync: 'never' });
      await fill(log, KEYS / METRICS.length, 2000, 1, 1);
      await measure(`${mode.padEnd(13)}`, async (onCheckpoint) => {
        if (mode === 'worker thread') {
          const pool = new ProcessorPool(config(1), { log, logger, dataDir, partitions: [0] });
          await pool.start();
          let seen = 0;
          const poll = setInterval(() => {
            void pool.metrics().then(([metrics]) => {
              const count = metrics?.find((m) => m.name === 'sluice_processor_checkpoint_seconds')?.values.find((v) => (v as { metricName?: string }).metricName?.endsWith('_count'))?.value ?? 0;
              for (; seen < count; seen++) onCheckpoint();
            });
          }, 50);
          return { stop: async () => (clearInterval(poll), await pool.stop({ checkpoint: false })) };
        }
        const registry = new Registry();
        const store = new LocalCheckpointStore(join(dataDir, 'checkpoints'), config(1).checkpoint.keep);
        // A bench has no supervisor: a failed loop ends it.
        const onFatal = (err: Error): void => {
          console.error(err);
          process.exit(1);
        };
        const node = new ProcessorNode(config(1), { log, store, registry, logger, partitions: [0], onFatal });
        await node.start();
        // Counted as they commit (the loop's commit runs beside it): the same count the worker's metrics give.
        let seen = 0;
        const poll = setInterval(() => {
          void registry.getSingleMetricAsString('sluice_processor_checkpoint_seconds').then((text) => {
            const count = Number(/_count(?:\{[^}]*\})? (\d+)/.exec(text)?.[1] ?? 0);
            for (; seen < count; seen++) onCheckpoint();
          });
        }, 50);
        return { stop: async () => (clearInterval(poll), await node.stop({ checkpoint: false })) };
      });
      await log.close();
    }
  } finally {
    await influxd.signal('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}

await run();
