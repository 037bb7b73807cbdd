/**
 * `npm run bench:processors`: one processor thread's throughput on columnar batches
 * (10k devices × 5 metrics; tumbling 10 s with values spread wide and narrow, see
 * fill-log.ts, and the fleet's tumbling 10 s + sliding 1 m / 10 s on narrow values; with
 * the heap per key when run with --expose-gc, as the npm script does), and for one partition holding 100k and 1M
 * (device, metric) keys: a full checkpoint's size, snapshot time and restore time, then a
 * delta checkpoint after 1 % of the keys got a reading, and a restore from both.
 * The last case runs at the fleet's pace: 60 rounds 200 ms of event time apart, so windows
 * fire every 50 rounds while most readings go into open ones.
 * Reads real log records (snappy columnar batches in a FileLog) like the processors do.
 * Restores run in a worker thread: a fresh heap, as after a restart (restoring next to
 * the live 1M-key task would mostly measure the garbage collector walking that one).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { FileLog, type Log } from '../log/index.js';
import { LocalCheckpointStore } from '../processors/index.js';
import { PartitionTask } from '../processors/task/partition-task.js';
import { timeConfigSchema, windowsConfigSchema, type WindowSpec } from '../processors/windowing/window-spec.js';
import { fill, METRICS, type ValueShape } from './fill-log.js';

const time = timeConfigSchema.parse({});
const windows = windowsConfigSchema.parse(undefined);
/** The fleet's windows (`sluice bench --mode load --scenario fleet` with /tmp/fleet.yaml of issue 15): tumbling 10 s plus sliding 1 m every 10 s. */
const fleetWindows = windowsConfigSchema.parse([
  { name: 'telemetry_10s', type: 'tumbling', size: '10s' },
  { name: 'telemetry_1m', type: 'sliding', size: '1m', slide: '10s' },
]);

/**
 * The throughput cases. Rounds 1 s apart keep every reading in one 10 s window (nothing
 * fires during the run: the cost of adding); rounds 10 s apart open new windows every
 * round, so windows fire and are purged as it runs (the cost of firing too).
 */
const CASES: { label: string; shape: ValueShape; windows: WindowSpec[]; roundMs: number; rounds?: number }[] = [
  { label: 'wide values', shape: 'wide', windows, roundMs: 1000 },
  { label: 'narrow values', shape: 'narrow', windows, roundMs: 1000 },
  { label: 'narrow values, tumbling 10 s + sliding 1 m / 10 s, all in one 10 s pane', shape: 'narrow', windows: fleetWindows, roundMs: 1000 },
  { label: 'narrow values, tumbling 10 s + sliding 1 m / 10 s, a round every 10 s (windows fire)', shape: 'narrow', windows: fleetWindows, roundMs: 10_000 },
  // The fleet's pace: each device's message moves its event time on by 200 ms, so a window takes 50 messages, then fires.
  { label: 'narrow values, tumbling 10 s + sliding 1 m / 10 s, a round every 200 ms for 60 rounds (the fleet\'s pace)', shape: 'narrow', windows: fleetWindows, roundMs: 200, rounds: 60 },
];
/** BENCH_CASES=a,b runs only the throughput cases whose label contains a or b; BENCH_STATE=0 skips the state part. */
const only = process.env.BENCH_CASES?.split(',');
/** BENCH_SHARE_PANES=0: the tumbling window does not share the sliding window's panes (the path before sharing, to compare). */
const sharePanes = process.env.BENCH_SHARE_PANES !== '0';

/** Heap in use after a full GC (run with --expose-gc; undefined without). */
function heapAfterGc(): number | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return undefined;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 3 : 1)} MiB`;

/** Runs `work` and returns the longest time the event loop had no turn meanwhile (what ingest waits for in embedded mode). */
async function longestStall(work: () => Promise<void>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const tick = (): void => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  };
  const timer = setInterval(tick, 1);
  await work();
  clearInterval(timer);
  tick();
  return longest;
}

/** Takes and writes a checkpoint (a delta unless it is the task's first), and prints what it took. */
async function checkpoint(label: string, what: string, task: PartitionTask, store: LocalCheckpointStore, id: number): Promise<void> {
  let snapshotMs = 0;
  let writeMs = 0;
  let bytes = 0;
  const cpu0 = process.cpuUsage();
  const stall = await longestStall(async () => {
    const t0 = performance.now();
    const c = await task.snapshot(id, { fullEvery: 10 });
    snapshotMs = performance.now() - t0;
    bytes = c.state.byteLength;
    const t1 = performance.now();
    await store.write(c);
    writeMs = performance.now() - t1;
  });
  console.log(
    `${label}: ${what} snapshot ${mib(bytes)} in ${snapshotMs.toFixed(0)} ms, compress + write + fsync ${writeMs.toFixed(0)} ms ` +
      `(CPU ${cpuMs(cpu0).toFixed(0)} ms); longest event-loop stall ${stall.toFixed(0)} ms`,
  );
}

interface RestoreResult {
  bytes: number;
  readMs: number;
  totalMs: number;
  /** CPU of the whole process (the main thread waits meanwhile): steadier than wall time on a shared machine. */
  cpuMs: number;
  heapBytes: number;
}

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

/** Restores a task from the store's newest chain in a worker thread (a fresh heap, as after a restart), and prints what it took. */
async function restore(label: string, what: string, checkpoints: string): Promise<void> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { checkpoints } });
  const r = await new Promise<RestoreResult>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  console.log(
    `${label}: restore from ${what} (${mib(r.bytes)}): read + verify + uncompress ${r.readMs.toFixed(0)} ms, ` +
      `total ${r.totalMs.toFixed(0)} ms (CPU ${r.cpuMs.toFixed(0)} ms); heap after ${mib(r.heapBytes)}`,
  );
}

/** The worker side of restore(). The task reads no records, so it gets an empty log. */
async function restoreInWorker(checkpoints: string): Promise<void> {
  const noLog: Log = {
    partitions: 1,
    append: () => Promise.reject(new Error('read-only')),
    read: () => Promise.resolve([]),
    trim: () => Promise.resolve(),
    startOffset: () => Promise.resolve(0),
    pending: () => Promise.resolve(0),
    close: () => Promise.resolve(),
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const chain = await new LocalCheckpointStore(checkpoints).restorable(0);
  const readMs = performance.now() - t0;
  const task = new PartitionTask({ partition: 0, log: noLog, windows, time, raw: false, emit: () => undefined });
  task.restore(chain);
  const totalMs = performance.now() - t0;
  const result: RestoreResult = { bytes: chain.reduce((n, c) => n + c.state.byteLength, 0), readMs, totalMs, cpuMs: cpuMs(cpu0), heapBytes: process.memoryUsage().heapUsed };
  parentPort!.postMessage(result);
}

async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-proc-'));
  try {
    // Throughput: 10k devices × 5 metrics, 20 readings per series, 10 rounds; see CASES.
    for (const c of CASES) {
      if (only !== undefined && !only.some((o) => c.label.includes(o))) continue;
      const log = await FileLog.open({ dir: join(dir, `tp-${CASES.indexOf(c)}`), partitions: 1, fsync: 'never' });
      const readings = await fill(log, 10_000, 500, 20, c.rounds ?? 10, 0, c.shape, c.roundMs);
      let task: PartitionTask | undefined = new PartitionTask({ partition: 0, log, windows: c.windows, time, raw: false, emit: () => undefined, sharePanes });
      await task.startFresh();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      while (await task.step(64));
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      // The task's heap: in use with it, less in use once it is gone (both after a full GC).
      const heap1 = heapAfterGc();
      task = undefined;
      const heap0 = heapAfterGc();
      const heap = heap0 === undefined || heap1 === undefined ? '' : `; heap ${((heap1 - heap0) / 50_000 / 1024).toFixed(2)} KiB per (device, metric) key`;
      console.log(
        `throughput, ${c.label}: ${readings} readings in ${seconds.toFixed(2)} s = ${Math.round(readings / seconds).toLocaleString('en')} readings/s on one thread, ` +
          `${Math.round(readings / cpuSeconds).toLocaleString('en')} per CPU second; CPU ${((cpuSeconds / readings) * 1e6).toFixed(3)} s per million readings${heap}`,
      );
      await log.close();
    }
    if (process.env.BENCH_STATE === '0') return;
    // State: 100k and 1M keys (devices × 5 metrics), one reading each, in one partition.
    for (const keys of [100_000, 1_000_000]) {
      const log = await FileLog.open({ dir: join(dir, `state-${keys}`), partitions: 1, fsync: 'never' });
      const devices = keys / METRICS.length;
      await fill(log, devices, 2000, 1, 1);
      const task = new PartitionTask({ partition: 0, log, windows, time, raw: false, emit: () => undefined });
      await task.startFresh();
      while (await task.step(64));
      const checkpoints = join(dir, `ckpt-${keys}`);
      const store = new LocalCheckpointStore(checkpoints);
      const label = `state ${keys.toLocaleString('en')} keys`;
      await checkpoint(label, 'full', task, store, 1);
      await restore(label, 'full', checkpoints);
      // 1 % of the keys get a reading (all metrics of 1 % of the devices), then a delta checkpoint.
      await fill(log, devices / 100, 2000, 1, 1, 1);
      while (await task.step(64));
      await checkpoint(label, 'delta (1 % of keys changed)', task, store, 2);
      await restore(label, 'full + delta', checkpoints);
      await log.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (isMainThread) await run();
else await restoreInWorker((workerData as { checkpoints: string }).checkpoints);
