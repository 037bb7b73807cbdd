/**
 * `npm run bench:snappy`: Sluice's own JS snappy (proto/snappy-compress.ts and
 * snappy-uncompress.ts) and snappyjs (pure JS, both on the calling thread) against the native
 * `snappy` addon's async API (libuv threadpool), compress and uncompress, at the sizes
 * Sluice compresses: log records (ColumnarBatches of one partition of one micro-batch,
 * ~300 B to ~64 KB) and checkpoint chunks (1 MiB of real window state). Rounds
 * interleave the implementations, so a neighbour's load hits both alike; figures are
 * medians over rounds. Per size and direction it prints MB/s (of uncompressed bytes),
 * process CPU seconds per GB (every thread, the threadpool included) and main-thread busy
 * seconds per GB (event-loop utilisation: what the caller's thread cannot spend on
 * anything else). Async runs twice: one call at a time, awaited (a checkpoint's
 * chunks), and two in flight (what compressBlocks/uncompressBlocks do with a decode
 * job's partitions or a processor's read).
 * BENCH_ROUNDS and BENCH_MB (uncompressed MB per measurement) change the load.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { compress, uncompress } from 'snappy';
import snappyjs from 'snappyjs';
import { FileLog } from '../log/index.js';
import { ColumnarBatchBuilder } from '../proto/index.js';
import { snappyCompress } from '../proto/snappy-compress.js';
import { uncompressBlockInline } from '../proto/snappy-block.js';
import { PartitionTask } from '../processors/task/partition-task.js';
import { timeConfigSchema, windowsConfigSchema } from '../processors/windowing/window-spec.js';
import { fill, METRICS } from './fill-log.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MB_PER_RUN = Number(process.env.BENCH_MB ?? 64);
/** Native calls in flight in the batched mode: snappy-block.ts's IN_FLIGHT. */
const IN_FLIGHT = 2;
/** No block here is larger. */
const MAX_BLOCK_BYTES = 16 << 20;

interface Sample {
  /** Uncompressed bytes a second, in MB. */
  mbps: number;
  /** Process CPU (all threads) per uncompressed GB, in s. */
  cpuPerGb: number;
  /** Main-thread busy time per uncompressed GB, in s. */
  mainPerGb: number;
}

type Run = (block: Uint8Array, times: number) => Promise<void>;

/** A real log record of about `target` bytes: devices × 5 metrics, `readings` each, from one partition. */
function columnarBatch(target: number, readings: number): Uint8Array {
  for (let devices = 1; ; devices = Math.ceil(devices * 1.1)) {
    const b = new ColumnarBatchBuilder(7, 1_700_000_000_000);
    for (let d = 0; d < devices; d++) {
      b.beginMessage(b.intern(`sensor-${(d * 7919) % 100_000}`), 0, 1000 + d);
      for (const metric of METRICS) {
        const m = b.intern(metric);
        for (let r = 0; r < readings; r++) b.addNumeric(m, 0, 1_700_000_000_000 + d * 3 + r * 1000, 20 + Math.sin(d + r) * 5);
      }
    }
    const encoded = b.encode();
    if (encoded.byteLength >= target) return encoded;
  }
}

/** 1 MiB of a real checkpoint's window state (~22k keys, one reading each), as checkpoint-file compresses it. */
async function checkpointChunk(): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-snappy-'));
  try {
    const log = await FileLog.open({ dir, partitions: 1, fsync: 'never' });
    await fill(log, 4400, 2000, 1, 1);
    const task = new PartitionTask({ partition: 0, log, windows: windowsConfigSchema.parse(undefined), time: timeConfigSchema.parse({}), raw: false, emit: () => undefined });
    await task.startFresh();
    while (await task.step(64));
    const { state } = await task.snapshot(1);
    await log.close();
    if (state.byteLength < 1 << 20) throw new Error(`checkpoint state of ${state.byteLength} bytes, wanted ≥ 1 MiB`);
    return state.slice(0, 1 << 20);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function measure(run: Run, block: Uint8Array, uncompressedBytes: number): Promise<Sample> {
  const times = Math.max(16, Math.round((MB_PER_RUN * 1e6) / uncompressedBytes));
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  await run(block, times);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  const gb = (times * uncompressedBytes) / 1e9;
  return { mbps: (times * uncompressedBytes) / 1e6 / seconds, cpuPerGb: (cpu.user + cpu.system) / 1e6 / gb, mainPerGb: elu.active / 1000 / gb };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const sequential =
  (call: (b: Uint8Array) => Promise<unknown>): Run =>
  async (block, times) => {
    for (let i = 0; i < times; i++) await call(block);
  };
const inFlight =
  (call: (b: Uint8Array) => Promise<unknown>): Run =>
  async (block, times) => {
    let started = 0;
    const lane = async (): Promise<void> => {
      while (started++ < times) await call(block);
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  };
const inline =
  (call: (b: Uint8Array) => unknown): Run =>
  (block, times) => {
    for (let i = 0; i < times; i++) call(block);
    return Promise.resolve();
  };

const IMPLS = {
  'sluice (JS: proto/snappy-compress.ts, snappy-uncompress.ts)': { compress: inline((b) => snappyCompress(b)), uncompress: inline((b) => uncompressBlockInline(b, MAX_BLOCK_BYTES)) },
  snappyjs: { compress: inline((b) => snappyjs.compress(b)), uncompress: inline((b) => snappyjs.uncompress(b)) },
  'snappy async, one at a time': { compress: sequential((b) => compress(b)), uncompress: sequential((b) => uncompress(b)) },
  [`snappy async, ${IN_FLIGHT} in flight`]: { compress: inFlight((b) => compress(b)), uncompress: inFlight((b) => uncompress(b)) },
};

async function run(): Promise<void> {
  const payloads: { name: string; bytes: Uint8Array }[] = [
    { name: 'record ~300 B', bytes: columnarBatch(300, 1) },
    { name: 'record ~4 KB', bytes: columnarBatch(4096, 1) },
    { name: 'record ~16 KB', bytes: columnarBatch(16_384, 10) },
    { name: 'record ~64 KB', bytes: columnarBatch(65_536, 10) },
    { name: 'record ~1 MiB', bytes: columnarBatch(1 << 20, 10) },
    { name: 'checkpoint chunk 1 MiB', bytes: await checkpointChunk() },
  ];
  const samples = new Map<string, Sample[]>();
  // Round 0 warms the JIT and the threadpool up and is not counted.
  for (let round = 0; round <= ROUNDS; round++) {
    for (const p of payloads) {
      const compressed = snappyjs.compress(p.bytes);
      for (const [impl, calls] of Object.entries(IMPLS)) {
        for (const direction of ['compress', 'uncompress'] as const) {
          const key = `${p.name}\t${direction}\t${impl}`;
          const sample = await measure(calls[direction], direction === 'compress' ? p.bytes : compressed, p.bytes.byteLength);
          if (round > 0) samples.set(key, [...(samples.get(key) ?? []), sample]);
        }
      }
    }
    process.stderr.write(round === 0 ? 'warm-up done\n' : `round ${round}/${ROUNDS} done\n`);
  }
  console.log(`Sluice's JS snappy and snappyjs vs snappy (native, async), medians of ${ROUNDS} interleaved rounds, ~${MB_PER_RUN} MB each; CPU = whole process, main = event-loop busy`);
  console.log('| payload | direction | implementation | MB/s | CPU s/GB | main s/GB | ratio vs snappyjs (MB/s) |');
  console.log('| --- | --- | --- | --: | --: | --: | --: |');
  for (const p of payloads) {
    const ratio = (p.bytes.byteLength / snappyjs.compress(p.bytes).byteLength).toFixed(1);
    for (const direction of ['compress', 'uncompress'] as const) {
      const base = median(samples.get(`${p.name}\t${direction}\tsnappyjs`)!.map((s) => s.mbps));
      for (const impl of Object.keys(IMPLS)) {
        const s = samples.get(`${p.name}\t${direction}\t${impl}`)!;
        const mbps = median(s.map((x) => x.mbps));
        console.log(
          `| ${p.name} (${p.bytes.byteLength} B, ${ratio}×) | ${direction} | ${impl} | ${mbps.toFixed(0)} | ${median(s.map((x) => x.cpuPerGb)).toFixed(2)} | ` +
            `${median(s.map((x) => x.mainPerGb)).toFixed(2)} | ${(mbps / base).toFixed(2)} |`,
        );
      }
    }
  }
}

await run();
