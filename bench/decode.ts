/**
 * `npm run bench:decode`: the decode worker's hot path on one thread, without the pool:
 * decodePayload (protobuf or JSON → validated readings in a ColumnarBatchBuilder), then
 * the batch encoded every JOB payloads and decoded again as a processor would (columnar
 * views; no snappy, which bench:snappy measures). Cases: double rows, a 100-value Series
 * (what a high-rate device sends), small int rows, int rows past 2^53 (the exact int64
 * path), and JSON rows. Rounds interleave the cases, so a neighbour's load hits all of
 * them alike. Time is the process's CPU time, not wall time (the machine is shared: a
 * neighbour's load stretches wall time far more than CPU time); figures are medians over
 * rounds, in CPU ns per reading.
 * Then the worker's whole job (decodeJob: grouping by partition, the builder, the
 * cardinality bookkeeping, encode and snappy) on fleet-shaped jobs: `sluice bench --mode
 * load --scenario fleet`'s payload (5 metrics × 20 readings) from 10 000 devices over 64
 * partitions, 1 000 messages a job; and on single-reading jobs (`--scenario single`'s payload,
 * one double reading, from 50 devices, 400 messages a job: what the gateway thread decodes
 * inline under that load).
 * BENCH_ROUNDS (7) and BENCH_MS (CPU milliseconds per case per round, 200) change the load.
 */
import { DecodeJobBuilder, decodeLimitsSchema, decodePayload, type DecodeJob, type PayloadKind } from '../gateway/decode/index.js';
import { decodeJob } from '../gateway/decode/decode.worker.js';
import { fleetPayload, numberPayload, timePayload, withSeqSlot } from './load-client.js';
import { ColumnarBatchBuilder, decodeColumnarBatch, ReadingBatch, type IReading } from '../proto/index.js';
import { wireInt64 } from '../proto/testing/wire-int64.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const MS_PER_RUN = Number(process.env.BENCH_MS ?? 200);
/** Payloads per partition batch: a micro-batch's share of one partition under load. */
const JOB = 256;
const NOW = 1_700_000_000_000;
const LIMITS = decodeLimitsSchema.parse({ threads: 1 });

const rows = (n: number, value: (i: number) => Partial<IReading>): IReading[] =>
  Array.from({ length: n }, (_, i) => ({ metric: `m${i % 5}`, timeUnixMs: NOW - 1000 + i, ...value(i) }));
const proto = (readings: IReading[]): Uint8Array => ReadingBatch.encode({ seq: 7, readings }).finish();

interface Case {
  label: string;
  kind: PayloadKind;
  payload: Uint8Array;
  readings: number;
}

const CASES: Case[] = [
  { label: 'protobuf, 1 double row', kind: 'protobuf', payload: proto(rows(1, () => ({ doubleValue: 21.5 }))), readings: 1 },
  { label: 'protobuf, 10 double rows', kind: 'protobuf', payload: proto(rows(10, (i) => ({ doubleValue: 20 + i * 0.37 }))), readings: 10 },
  {
    label: 'protobuf, Series of 100 doubles',
    kind: 'protobuf',
    payload: ReadingBatch.encode({ seq: 7, series: [{ metric: 'vibration', startUnixMs: NOW - 1000, timeDeltaMs: Array.from({ length: 100 }, (_, i) => i * 10), values: Array.from({ length: 100 }, (_, i) => Math.sin(i) * 100) }] }).finish(),
    readings: 100,
  },
  { label: 'protobuf, 10 int rows (small)', kind: 'protobuf', payload: proto(rows(10, (i) => ({ intValue: 1000 + i }))), readings: 10 },
  { label: 'protobuf, 10 int rows past 2^53', kind: 'protobuf', payload: proto(rows(10, (i) => ({ intValue: wireInt64(2n ** 53n + BigInt(i)) }))), readings: 10 },
  {
    label: 'JSON, 10 double rows',
    kind: 'json',
    payload: new TextEncoder().encode(JSON.stringify({ seq: 7, readings: rows(10, (i) => ({ doubleValue: 20 + i * 0.37 })) })),
    readings: 10,
  },
];

let sink = 0;

/** CPU time of this process so far, ms. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Decodes `c` for about MS_PER_RUN ms of CPU; returns CPU ns per reading. */
function run(c: Case): number {
  const builder = new ColumnarBatchBuilder(0, NOW);
  const ctx = { receivedAtMs: NOW, deviceIdx: 0, deviceTagsIdx: 0, limits: LIMITS };
  let payloads = 0;
  const started = cpuMs();
  let elapsed: number;
  do {
    builder.reset(0, NOW);
    ctx.deviceIdx = builder.intern('bench-device');
    for (let i = 0; i < JOB; i++) {
      const out = decodePayload(c.payload, c.kind, ctx, builder);
      if (out.reason !== 0) throw new Error(`${c.label}: refused (${out.detail})`);
    }
    const batch = decodeColumnarBatch(builder.encode());
    sink += batch.value[batch.value.length - 1]!;
    payloads += JOB;
    elapsed = cpuMs() - started;
  } while (elapsed < MS_PER_RUN);
  return (elapsed * 1e6) / (payloads * c.readings);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

for (const c of CASES) run({ ...c }); // warm up every path before measuring any
const samples = CASES.map(() => [] as number[]);
for (let round = 0; round < ROUNDS; round++) CASES.forEach((c, i) => samples[i]!.push(run(c)));
console.log(`decode + build + batch encode/decode, ${JOB} payloads per batch, median of ${ROUNDS} rounds:`);
CASES.forEach((c, i) => {
  const ns = median(samples[i]!);
  console.log(`  ${c.label.padEnd(34)} ${ns.toFixed(1).padStart(7)} CPU ns/reading  ${(1000 / ns).toFixed(2).padStart(6)} M readings/s  (min ${Math.min(...samples[i]!).toFixed(1)}, max ${Math.max(...samples[i]!).toFixed(1)})`);
});

/** Fleet-shaped jobs, each payload with its own seq and event time (as LoadClient patches them per publish). */
function fleetJobs(): DecodeJob[] {
  const timed = fleetPayload(['temperature', 'humidity', 'pressure', 'vibration', 'voltage'], 20, 10, NOW - 60_000);
  const jobs: DecodeJob[] = [];
  let device = 0;
  for (let j = 0; j < 20; j++) {
    const builder = new DecodeJobBuilder();
    for (let i = 0; i < 1000; i++, device++) {
      timePayload(timed, NOW - 5_000_000 + (j * 1000 + i) * 200);
      numberPayload(timed.payload, device);
      builder.add(timed.payload, device % 64, `fleet-${device % 10_000}`, '', 'protobuf');
    }
    jobs.push(builder.take(NOW).job);
  }
  return jobs;
}

/** Single-reading jobs as `--scenario single` makes them: 50 devices, each payload with its own seq. */
function singleJobs(): DecodeJob[] {
  const payload = withSeqSlot(ReadingBatch.encode({ readings: [{ metric: 'temperature', timeUnixMs: NOW - 60_000, doubleValue: 21.5 }] }).finish());
  const jobs: DecodeJob[] = [];
  for (let j = 0, seq = 0; j < 20; j++) {
    const builder = new DecodeJobBuilder();
    for (let i = 0; i < 400; i++, seq++) {
      numberPayload(payload, seq);
      builder.add(payload, (i % 50) % 64, `load-${i % 50}`, '', 'protobuf');
    }
    jobs.push(builder.take(NOW).job);
  }
  return jobs;
}

/** Runs decodeJob over `jobs` for about MS_PER_RUN ms of CPU; returns CPU ns per reading. */
function runJobs(jobs: DecodeJob[]): number {
  let readings = 0;
  const started = cpuMs();
  let elapsed: number;
  let j = 0;
  do {
    const result = decodeJob(jobs[j++ % jobs.length]!, LIMITS);
    for (let i = 0; i < result.readings.length; i++) readings += result.readings[i]!;
    sink += result.batches.length;
    elapsed = cpuMs() - started;
  } while (elapsed < MS_PER_RUN);
  return (elapsed * 1e6) / readings;
}

const jobSets = [
  { label: 'fleet payloads (5 Series × 20), 1 000 messages over 64 partitions a job', jobs: fleetJobs() },
  { label: 'single-reading payloads, 400 messages from 50 devices a job', jobs: singleJobs() },
];
for (const set of jobSets) runJobs(set.jobs);
const jobSamples = jobSets.map(() => [] as number[]);
for (let round = 0; round < ROUNDS; round++) jobSets.forEach((set, i) => jobSamples[i]!.push(runJobs(set.jobs)));
console.log(`decodeJob, median of ${ROUNDS} rounds (GC threads included):`);
jobSets.forEach((set, i) => {
  const ns = median(jobSamples[i]!);
  console.log(`  ${set.label}: ${ns.toFixed(1)} CPU ns/reading  ${(1000 / ns).toFixed(2)} M readings/s  (min ${Math.min(...jobSamples[i]!).toFixed(1)}, max ${Math.max(...jobSamples[i]!).toFixed(1)})`);
});
if (sink === 0.5) console.log(''); // keeps the decoded values live
