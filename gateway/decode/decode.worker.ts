import { Piscina } from 'piscina';
import { BatchCompressor, ColumnarBatchBuilder } from '../../proto/index.js';
import { MappingRules } from '../mappings/index.js';
import type { WorkerData } from './config.js';
import {
  jobMessageCount,
  jobPayload,
  KIND_JSON,
  KIND_MAPPED,
  KIND_SPARKPLUG,
  KIND_STATUS,
  META_DEVICE,
  META_DEVICE_TAGS,
  META_KIND,
  META_PARTITION,
  META_STRIDE,
  META_TOPIC,
  NO_INDEX,
  type DecodeJob,
  type DecodeResult,
} from './decode-job.js';
import { decodeMappedPayload, decodePayload, decodeSparkplugPayload, type DecodeContext, type PayloadOutcome } from './payload-decoder.js';
import { JobScratch, resultArrays } from './job-scratch.js';
import { REASON_CODE } from './reasons.js';
import { writeStatusRecord } from './status-record.js';

/**
 * The decode worker. Pure: bytes in, typed arrays out; nothing from the broker, so it is
 * tested by calling decodeJob directly and through DecodePool alike.
 */

// One builder for the life of the worker, reset per partition: a job is decoded one
// partition at a time, so the builder only ever holds one partition's batch. (A builder
// per partition kept each one at the largest batch it ever saw: 64 partitions × tens of
// MB of grown columns, which showed as RSS growing past 2 GB under bench:ingest.)
let shared: ColumnarBatchBuilder | undefined;
/** Encodes and compresses each partition's batch through buffers it keeps; a job's records share one new buffer. */
const records = new BatchCompressor();
/** Past this many readings in one partition batch, the grown builder is dropped after the job. */
const KEEP_BUILDER_UP_TO = 1 << 18;
/**
 * Each accepted message's metric ids and series hashes, in decode order (partition by
 * partition), for the life of the worker: copied out in message order at the end of a job.
 * Typed and kept: as number[] pushed per entry and copied again per message they were
 * ~14 % of the worker's profile under the fleet load (10 entries a message, each pushed twice).
 */
let decodedMetrics = new Uint32Array(1024);
let decodedSeries = new Uint32Array(1024);
/** decodeJob's per-message working arrays, for the life of the thread. */
const scratch = new JobScratch();
/** Past this many entries, a grown array is dropped after the job. */
const KEEP_DECODED_UP_TO = 1 << 20;

/** A copy of `a` with twice the room. */
function grown(a: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> {
  const next = new Uint32Array(a.length * 2);
  next.set(a);
  return next;
}

/** The mappings of a workerData object, prepared once: a worker (or the inline path) is given the same object for its life. */
const preparedMappings = new WeakMap<WorkerData, readonly MappingRules[]>();
function mappingsOf(limits: WorkerData): readonly MappingRules[] {
  let rules = preparedMappings.get(limits);
  if (rules === undefined) preparedMappings.set(limits, (rules = (limits.mappings ?? []).map((m, i) => new MappingRules(m, i))));
  return rules;
}

/**
 * Decodes every payload of a job into one ColumnarBatch per partition, with a status per
 * message. Batches come back snappy-compressed, ready for the log: compression is CPU
 * the worker has to spare and the main thread does not.
 */
export function decodeJob(job: DecodeJob, limits: WorkerData): DecodeResult {
  const n = jobMessageCount(job);
  const w = scratch;
  w.prepare(n, job.strings.length);
  const { status, readings, msgPartitionIndex, metricsAt, metricsCount, seriesAt, seriesCount, internedAs, internedIn } = w;
  const details = new Array<string>(n);
  const metricNames: string[] = [];
  const metricIndex = new Map<string, number>();
  const ctx: DecodeContext = { receivedAtMs: job.receivedAtMs, deviceIdx: 0, deviceTagsIdx: 0, limits };
  const meta = job.meta;
  const mappings = mappingsOf(limits);
  // Job string index → builder string index, valid for the partition recorded beside it: a
  // device id lives in one partition, so this saves two Map lookups per message.
  const intern = (builder: ColumnarBatchBuilder, s: number): number => {
    if (internedIn[s] !== builder.partition) {
      internedAs[s] = builder.intern(job.strings[s]!);
      internedIn[s] = builder.partition;
    }
    return internedAs[s]!;
  };

  // Messages grouped by partition, arrival order kept within each (a stable bucket sort).
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const partition = meta[i * META_STRIDE + META_PARTITION]!;
    const group = groups.get(partition);
    if (group) group.push(i);
    else groups.set(partition, [i]);
  }
  // Each accepted message's metric ids and series hashes, in decode order (partition by
  // partition), and where they lie: copied out in message order at the end. Flat, so a
  // message costs no array or closure of its own here.
  let metricsLength = 0;
  let seriesLength = 0;
  // Consecutive messages usually name the same metric and series: their id and hash are kept.
  let lastName: string | undefined;
  let lastNameId = 0;
  let lastKey: string | undefined;
  let lastKeyHash = 0;
  const partitionList: number[] = [];
  const builder = (shared ??= new ColumnarBatchBuilder(0, job.receivedAtMs));
  records.clear();
  let largest = 0;
  for (const partition of [...groups.keys()].sort((a, b) => a - b)) {
    builder.reset(partition, job.receivedAtMs);
    for (const i of groups.get(partition)!) {
      const at = i * META_STRIDE;
      ctx.deviceIdx = intern(builder, meta[at + META_DEVICE]!);
      ctx.deviceTagsIdx = intern(builder, meta[at + META_DEVICE_TAGS]!);
      const before = builder.messageCount;
      const kind = meta[at + META_KIND]!;
      const mapping = kind >= KIND_MAPPED ? (mappings[kind - KIND_MAPPED] ?? null) : undefined;
      const out = decodeOne(jobPayload(job, i), kind, mapping, job.strings[meta[at + META_TOPIC]!]!, ctx, builder);
      status[i] = out.reason;
      details[i] = out.detail ?? '';
      if (out.reason === REASON_CODE.accepted) {
        readings[i] = out.readings;
        msgPartitionIndex[i] = before;
        metricsAt[i] = metricsLength;
        metricsCount[i] = out.metrics.length;
        for (const name of out.metrics) {
          if (name !== lastName) {
            let k = metricIndex.get(name);
            if (k === undefined) {
              k = metricNames.length;
              metricNames.push(name);
              metricIndex.set(name, k);
            }
            lastName = name;
            lastNameId = k;
          }
          if (metricsLength === decodedMetrics.length) decodedMetrics = grown(decodedMetrics);
          decodedMetrics[metricsLength++] = lastNameId;
        }
        seriesAt[i] = seriesLength;
        seriesCount[i] = out.series.length;
        for (const key of out.series) {
          if (key !== lastKey) {
            lastKey = key;
            lastKeyHash = seriesHash(key);
          }
          if (seriesLength === decodedSeries.length) decodedSeries = grown(decodedSeries);
          decodedSeries[seriesLength++] = lastKeyHash;
        }
      } else {
        readings[i] = 0;
        msgPartitionIndex[i] = NO_INDEX;
        metricsCount[i] = 0;
        seriesCount[i] = 0;
      }
    }
    largest = Math.max(largest, builder.numericCount);
    // A partition whose messages were all refused gets no batch: nothing to append to the log.
    if (builder.messageCount > 0) {
      partitionList.push(partition);
      records.add(builder.build());
    }
  }
  const batches = records.take();
  if (largest > KEEP_BUILDER_UP_TO) shared = undefined;
  const result = resultArrays(n, metricsLength, seriesLength, partitionList.length);
  const { msgMetrics, msgMetricsEnd, msgSeries, msgSeriesEnd } = result;
  for (let i = 0, m = 0, sr = 0; i < n; i++) {
    for (let j = metricsAt[i]!, end = j + metricsCount[i]!; j < end; j++) msgMetrics[m++] = decodedMetrics[j]!;
    msgMetricsEnd[i] = m;
    for (let j = seriesAt[i]!, end = j + seriesCount[i]!; j < end; j++) msgSeries[sr++] = decodedSeries[j]!;
    msgSeriesEnd[i] = sr;
  }
  result.status.set(status.subarray(0, n));
  result.readings.set(readings.subarray(0, n));
  result.msgPartitionIndex.set(msgPartitionIndex.subarray(0, n));
  result.partitions.set(partitionList);
  if (decodedMetrics.length > KEEP_DECODED_UP_TO) decodedMetrics = new Uint32Array(1024);
  if (decodedSeries.length > KEEP_DECODED_UP_TO) decodedSeries = new Uint32Array(1024);
  w.shrink(KEEP_DECODED_UP_TO);

  return { ...result, batches, metricNames, details };
}

/**
 * A 32-bit FNV-1a hash of a series key, over UTF-16 code units (no encoding, no
 * allocation). The main thread keeps these, not the keys, per device: a collision only
 * lets one new series through the cardinality guard uncounted.
 */
function seriesHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * decodePayload (decodeMappedPayload when `mapping` is set, decodeSparkplugPayload for
 * KIND_SPARKPLUG, writeStatusRecord for KIND_STATUS), but a throw from anywhere (a bug, not a bad payload) refuses this
 * payload only, not the job. `mapping` null: the job names a mapping this worker was not
 * given, a bug too. `topic`: the message's META_TOPIC string.
 */
function decodeOne(bytes: Uint8Array, kind: number, mapping: MappingRules | null | undefined, topic: string, ctx: DecodeContext, builder: ColumnarBatchBuilder): PayloadOutcome {
  const before = builder.messageCount;
  try {
    if (mapping === null) throw new Error('the job names a mapping the worker does not have');
    if (mapping !== undefined) return decodeMappedPayload(bytes, mapping, topic, ctx, builder);
    if (kind === KIND_SPARKPLUG) return decodeSparkplugPayload(bytes, topic, ctx, builder);
    if (kind === KIND_STATUS) return writeStatusRecord(topic, ctx, builder);
    return decodePayload(bytes, kind === KIND_JSON ? 'json' : 'protobuf', ctx, builder);
  } catch (err) {
    if (builder.messageCount > before) builder.abortMessage();
    return { reason: REASON_CODE.decode_error, detail: `unexpected: ${err instanceof Error ? err.message : String(err)}`, readings: 0, metrics: [], series: [] };
  }
}

/** Every buffer a result holds, each once (its typed arrays share one, its records another; a duplicate would throw DataCloneError). */
export function resultTransferList(r: DecodeResult): ArrayBuffer[] {
  const views: ArrayBufferView[] = [r.partitions, r.status, r.readings, r.msgPartitionIndex, r.msgMetricsEnd, r.msgMetrics, r.msgSeriesEnd, r.msgSeries, ...r.batches];
  return [...new Set(views.map((v) => v.buffer as ArrayBuffer))];
}

/** The piscina entry point: limits come from workerData (validated on the main thread); the result's buffers are moved, not copied. */
export default function decode(job: DecodeJob): unknown {
  const limits = Piscina.workerData as WorkerData | undefined;
  if (limits === undefined) throw new Error('decode.worker: no limits in workerData (run it through DecodePool)');
  const result = decodeJob(job, limits);
  // The job's buffers go back with the result, for the main thread's builder to reuse.
  result.jobBuffers = { payloads: job.payloads, meta: job.meta };
  const transfer = resultTransferList(result);
  transfer.push(job.payloads.buffer as ArrayBuffer, job.meta.buffer as ArrayBuffer);
  // A custom transferable: piscina moves every buffer in the list and posts the value.
  const movable = { [Piscina.transferableSymbol]: transfer, [Piscina.valueSymbol]: result };
  return Piscina.move(movable as unknown as Parameters<typeof Piscina.move>[0]);
}
