import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../core/index.js';
import { FileLog } from '../log/index.js';
import { readBundleIndex } from '../processors/checkpoint/checkpoint-catalog.js';
import { aggregateMetrics, ProcessorPool, processorConfigSchema } from '../processors/index.js';
import { ColumnarBatchBuilder, compressBatch } from '../proto/index.js';
import { startInfluxd, type TestInfluxd } from './harness/influxdb.js';
import { tempDir } from './harness/temp-dir.js';

// The pool starts the compiled worker from dist/: `npm run build` first (npm test does).
const PARTITIONS = 6;
const T0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000; // an hour ago: windows close on idleness

function config(influx: TestInfluxd, db: string, windowSize: number) {
  return processorConfigSchema.parse({
    processors: { threads: 2 },
    influx: { url: influx.url, database: db, flushInterval: '100ms' },
    checkpoint: { interval: '200ms' },
    time: { idleTimeout: '300ms', maxOutOfOrderness: '0ms' },
    windows: [{ name: 'pool_1s', type: 'tumbling', size: windowSize }],
  });
}

/** One record per partition: device `dev-<p>` with readings 1..n of metric `level`, all in one 1 s window. */
function record(partition: number, n: number): Uint8Array {
  const b = new ColumnarBatchBuilder(partition, T0);
  b.beginMessage(b.intern(`dev-${partition}`), 0, 1);
  const metric = b.intern('level');
  for (let i = 1; i <= n; i++) b.addNumeric(metric, 0, T0 + i, i);
  return compressBatch(b.encode());
}

describe('ProcessorPool', () => {
  let influx: TestInfluxd;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const logger = createLogger('test', 'silent');

  beforeAll(async () => {
    influx = await startInfluxd();
    dir = await tempDir('sluice-pool-');
  });
  afterAll(async () => {
    await influx?.destroy();
    await dir?.remove();
  });

  it('shares the partitions among its threads, which read the log through the link and write every window', async () => {
    const log = await FileLog.open({ dir: join(dir.path, 'log'), partitions: PARTITIONS, fsync: 'never' });
    const pool = new ProcessorPool(config(influx, 'pool', 1000), { log, logger, dataDir: dir.path, partitions: [0, 1, 2, 3, 4, 5] });
    await pool.start();
    try {
      const owned = pool.assignment;
      expect(owned).toHaveLength(2);
      expect(owned.every((p) => p.length === 3)).toBe(true);
      expect(owned.flat().sort()).toEqual([0, 1, 2, 3, 4, 5]);
      for (let p = 0; p < PARTITIONS; p++) await pool.log.append(p, record(p, p + 1));
      // The windows close when the idle watermark passes them; InfluxDB has no event to await, so poll it.
      let rows: Record<string, unknown>[] = [];
      for (let attempt = 0; attempt < 300 && rows.length < PARTITIONS; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
        rows = await influx.query('SELECT "count", "sum", device FROM pool_1s', 'pool').catch(() => []);
      }
      const byDevice = Object.fromEntries(rows.map((r) => [r.device, [r.count, r.sum]]));
      for (let p = 0; p < PARTITIONS; p++) expect(byDevice[`dev-${p}`]).toEqual([p + 1, ((p + 1) * (p + 2)) / 2]);
      // Each thread counts its own messages; /metrics adds them up.
      const perThread = await pool.metrics();
      expect(perThread).toHaveLength(2);
      const text = await aggregateMetrics([], perThread).metrics();
      expect(text).toMatch(/^sluice_processor_messages_total 6$/m);
    } finally {
      await pool.stop();
      await log.close();
    }
    // The final checkpoint of every partition is on disk, written by whichever thread owned it.
    const bundles = (await readdir(join(dir.path, 'checkpoints'))).filter((n) => n.endsWith('.bundle'));
    const partitionsWithCheckpoints = new Set((await Promise.all(bundles.map((n) => readBundleIndex(join(dir.path, 'checkpoints', n))))).flat().map((s) => s.partition));
    expect([...partitionsWithCheckpoints].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('fails its start with the worker\'s own error when a thread cannot restore', async () => {
    // The previous test checkpointed 1 s windows; a 2 s window of the same name cannot reuse that state.
    const log = await FileLog.open({ dir: join(dir.path, 'log'), partitions: PARTITIONS, fsync: 'never' });
    const pool = new ProcessorPool(config(influx, 'pool', 2000), { log, logger, dataDir: dir.path, partitions: [0, 1, 2, 3, 4, 5] });
    try {
      await expect(pool.start()).rejects.toMatchObject({ code: 'SLUICE_CHECKPOINT_MISMATCH' });
    } finally {
      await log.close();
    }
  });
});
