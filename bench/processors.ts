/**
 * `npm run bench:processors`: one processor thread's throughput on columnar batches
 * (10k devices × 5 metrics, tumbling 10 s), and checkpoint size, snapshot time and
 * restore time for one partition holding 100k and 1M (device, metric) keys.
 * Reads real log records (snappy columnar batches in a FileLog) like the processors do.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileLog } from '../log/index.js';
import { LocalCheckpointStore } from '../processors/index.js';
import { PartitionTask } from '../processors/task/partition-task.js';
import { timeConfigSchema, windowsConfigSchema } from '../processors/windowing/window-spec.js';
import { ColumnarBatchBuilder, compressBatch } from '../proto/index.js';

const METRICS = ['temperature', 'humidity', 'pressure', 'vibration', 'voltage'];
const time = timeConfigSchema.parse({});
const windows = windowsConfigSchema.parse(undefined);

/** Appends `batches` records of `devicesPerBatch` devices × 5 metrics × `readings` readings each. */
async function fill(log: FileLog, devices: number, devicesPerBatch: number, readingsPerSeries: number, rounds: number): Promise<number> {
  const start = Math.floor(Date.now() / 10_000) * 10_000 - 3_600_000;
  let total = 0;
  let seq = 0;
  for (let round = 0; round < rounds; round++) {
    seq++;
    for (let first = 0; first < devices; first += devicesPerBatch) {
      const b = new ColumnarBatchBuilder(0, start);
      for (let d = first; d < Math.min(devices, first + devicesPerBatch); d++) {
        b.beginMessage(b.intern(`device-${d}`), 0, seq);
        for (const metric of METRICS) {
          const m = b.intern(metric);
          for (let r = 0; r < readingsPerSeries; r++) b.addNumeric(m, 0, start + round * 1000 + r * 10, Math.sin(d + r + round));
        }
        total += METRICS.length * readingsPerSeries;
      }
      await log.append(0, compressBatch(b.encode()));
    }
  }
  return total;
}

async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-proc-'));
  try {
    // Throughput: 10k devices × 5 metrics, 20 readings per series, 10 rounds (1 s of event time each).
    {
      const log = await FileLog.open({ dir: join(dir, 'tp'), partitions: 1, fsync: 'never' });
      const readings = await fill(log, 10_000, 500, 20, 10);
      const task = new PartitionTask({ partition: 0, log, windows, time, raw: false, emit: () => undefined });
      task.startFresh();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      while (await task.step(64));
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      console.log(`throughput: ${readings} readings in ${seconds.toFixed(2)} s = ${Math.round(readings / seconds).toLocaleString('en')} readings/s on one thread; CPU ${(((cpu.user + cpu.system) / 1e6 / readings) * 1e6).toFixed(2)} s per million readings`);
      await log.close();
    }
    // State: 100k and 1M keys (devices × 5 metrics), one reading each, in one partition.
    for (const keys of [100_000, 1_000_000]) {
      const log = await FileLog.open({ dir: join(dir, `state-${keys}`), partitions: 1, fsync: 'never' });
      await fill(log, keys / METRICS.length, 2000, 1, 1);
      const task = new PartitionTask({ partition: 0, log, windows, time, raw: false, emit: () => undefined });
      task.startFresh();
      while (await task.step(64));
      const t0 = performance.now();
      const checkpoint = task.snapshot(1);
      const snapshotMs = performance.now() - t0;
      const store = new LocalCheckpointStore(join(dir, `ckpt-${keys}`));
      const t1 = performance.now();
      await store.write(checkpoint);
      const writeMs = performance.now() - t1;
      const t2 = performance.now();
      const restored = new PartitionTask({ partition: 0, log, windows, time, raw: false, emit: () => undefined });
      restored.restore((await store.latest(0))!);
      const restoreMs = performance.now() - t2;
      console.log(
        `state ${keys.toLocaleString('en')} keys: snapshot ${(checkpoint.state.byteLength / 2 ** 20).toFixed(1)} MiB in ${snapshotMs.toFixed(0)} ms (main thread, blocks ingest), ` +
          `compress + write + fsync ${writeMs.toFixed(0)} ms, read + verify + restore ${restoreMs.toFixed(0)} ms`,
      );
      await log.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await run();
