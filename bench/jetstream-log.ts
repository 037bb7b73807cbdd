/**
 * `npm run bench:jetstream-log`: what JetStreamLog sustains on this machine. For R1 on
 * one nats-server and R3 on a 3-node loopback cluster: 1 KiB records appended to 8
 * partitions with up to BENCH_INFLIGHT appends pending (the gateway's shape: many
 * devices' batches awaiting their PUBACK), then the same to one partition; prints
 * records/s, MB/s, p50/p99 append latency, the frames published, a catch-up read of one
 * partition, and the latency of one append at a time. Starts its own servers (the test harness) in a temp dir. Not a test.
 */
import { randomBytes } from 'node:crypto';
import { JetStreamLog } from '../log/index.js';
import { startNatsCluster, startNatsServer, type TestNats } from '../test/harness/nats-server.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 100_000);
const INFLIGHT = Number(process.env.BENCH_INFLIGHT ?? 2000);
const RECORD_BYTES = 1024;

interface Result {
  setup: string;
  partitions: number;
  recordsPerSec: number;
  mbPerSec: number;
  p50Ms: number;
  p99Ms: number;
  frames: number;
  readRecordsPerSec: number;
  /** One append at a time: the latency a lone device's PUBACK waits (frameDelayMs included). */
  idleP50Ms: number;
  idleP99Ms: number;
}

async function run(setup: string, nats: TestNats, replicas: 1 | 3, partitions: number): Promise<Result> {
  const stream = `BENCH_${randomBytes(4).toString('hex')}`;
  const log = await JetStreamLog.open({ servers: nats.servers, replicas, partitions, stream, subjectPrefix: `bench.${stream}` });
  try {
    const payload = randomBytes(RECORD_BYTES);
    const latencies = new Float64Array(RECORDS);
    // A counter and one waiter, not Promise.race over the pending set: that is O(pending) per append.
    let pending = 0;
    let wake: (() => void) | null = null;
    const started = performance.now();
    for (let i = 0; i < RECORDS; i++) {
      const t0 = performance.now();
      pending++;
      void log.append(i % partitions, payload).then(() => {
        latencies[i] = performance.now() - t0;
        pending--;
        wake?.();
      });
      while (pending >= INFLIGHT || (i === RECORDS - 1 && pending > 0)) await new Promise<void>((resolve) => (wake = resolve));
    }
    const seconds = (performance.now() - started) / 1000;
    latencies.sort();

    const readStart = performance.now();
    let read = 0;
    for (let from = 0; ; ) {
      const batch = await log.read(0, from, 5000);
      if (batch.length === 0) break;
      read += batch.length;
      from = batch[batch.length - 1]!.offset + 1;
    }
    const readSeconds = (performance.now() - readStart) / 1000;

    const idle = new Float64Array(1000);
    for (let i = 0; i < idle.length; i++) {
      const t0 = performance.now();
      await log.append(i % partitions, payload);
      idle[i] = performance.now() - t0;
    }
    idle.sort();
    return {
      setup,
      partitions,
      recordsPerSec: Math.round(RECORDS / seconds),
      mbPerSec: Math.round((RECORDS * RECORD_BYTES) / seconds / 1e5) / 10,
      p50Ms: Math.round(latencies[Math.floor(RECORDS * 0.5)]! * 10) / 10,
      p99Ms: Math.round(latencies[Math.floor(RECORDS * 0.99)]! * 10) / 10,
      frames: log.stats.published,
      readRecordsPerSec: Math.round(read / readSeconds),
      idleP50Ms: Math.round(idle[500]! * 100) / 100,
      idleP99Ms: Math.round(idle[990]! * 100) / 100,
    };
  } finally {
    await log.close();
  }
}

async function main(): Promise<void> {
  const results: Result[] = [];
  const single = await startNatsServer();
  try {
    results.push(await run('R1, 1 node', single, 1, 8));
    results.push(await run('R1, 1 node', single, 1, 1));
  } finally {
    await single.destroy();
  }
  const cluster = await startNatsCluster();
  try {
    results.push(await run('R3, 3 nodes', cluster, 3, 8));
    results.push(await run('R3, 3 nodes', cluster, 3, 1));
  } finally {
    await cluster.destroy();
  }
  console.log(`${RECORDS} records of ${RECORD_BYTES} B, up to ${INFLIGHT} appends pending`);
  console.table(results);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
