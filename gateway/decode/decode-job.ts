import type { PayloadKind } from './payload-decoder.js';
import type { StatusJob } from './status-record.js';

/**
 * A JSON payload from a topic of `ingest.mappings`: the mapping's index (the worker has the
 * same list from workerData), its name (for dead letters) and the topic, whose levels
 * give the tag values: they are not in the payload, so they travel per message.
 */
export interface MappedPayload {
  mapping: number;
  name: string;
  topic: string;
}

/**
 * A Sparkplug B payload: `sparkplug` is its job string (sparkplug-payload.ts: BIRTH_JOB,
 * or the alias table of the birth its data refers to). `onRefused` tells the main thread's
 * edge-node state why the payload was refused (an unknown alias asks for a rebirth); it
 * stays on the main thread, only the string crosses to the worker.
 */
export interface SparkplugJob {
  sparkplug: string;
  onRefused?: (reason: string) => void;
}

/** How the worker reads a payload: the native protobuf or JSON form, Sparkplug B, through a mapping, or not at all (a status record). */
export type JobKind = PayloadKind | MappedPayload | SparkplugJob | StatusJob;

/**
 * The contract between the main thread and a decode worker. A job is one micro-batch:
 * every payload copied into ONE buffer plus a Uint32Array of per-message metadata, so a
 * job crosses threads as two transferred buffers and a short string list, whatever the
 * number of messages. Never a task, promise or postMessage per payload or reading.
 */
export interface DecodeJob {
  /** Gateway receive time of the micro-batch, unix ms: the event time for readings with time 0, and the skew reference. */
  receivedAtMs: number;
  /** All payloads concatenated. */
  payloads: Uint8Array;
  /** META_STRIDE entries per message: [offset, length, partition, deviceIdx, deviceTagsIdx, kind, topicIdx]. */
  meta: Uint32Array;
  /** Device ids, device tag strings and mapped topics referenced by meta. */
  strings: string[];
}

export const META_STRIDE = 7;
export const META_OFFSET = 0;
export const META_LENGTH = 1;
export const META_PARTITION = 2;
export const META_DEVICE = 3;
export const META_DEVICE_TAGS = 4;
export const META_KIND = 5;
/** A mapped payload's topic, or a Sparkplug payload's or a status record's job string (a strings index); 0 and unused for the native kinds. */
export const META_TOPIC = 6;
export const KIND_PROTOBUF = 0;
export const KIND_JSON = 1;
export const KIND_SPARKPLUG = 2;
/** A device status record (status-record.ts): the job string says it all, the payload is not read. */
export const KIND_STATUS = 3;
/** KIND_MAPPED + i: through mapping i of `ingest.mappings` (kinds live only in a job, never on disk: renumbering is safe). */
export const KIND_MAPPED = 4;
/** msgPartitionIndex of a refused message: it is in no batch. */
export const NO_INDEX = 0xffffffff;

/** What the worker returns; every typed array and batch buffer is transferred, not copied. */
export interface DecodeResult {
  /** Partitions with at least one accepted message, ascending; batches[i] (a snappy-compressed ColumnarBatch) belongs to partitions[i]. */
  partitions: Uint32Array;
  /** One encoded ColumnarBatch per partition. */
  batches: Uint8Array[];
  /** Per message: reason code (REASON_CODE), 0 = accepted. */
  status: Uint8Array;
  /** Per message: readings accepted (0 when refused). */
  readings: Uint32Array;
  /** Per message: index inside its partition's batch (to set MSG_FLAG_DROPPED later), NO_INDEX when refused. */
  msgPartitionIndex: Uint32Array;
  /** Dictionary for msgMetrics. */
  metricNames: string[];
  /** Message i's distinct metric indices are msgMetrics[msgMetricsEnd[i-1] .. msgMetricsEnd[i]) (from 0 for i = 0). */
  msgMetricsEnd: Uint32Array;
  msgMetrics: Uint32Array;
  /** Message i's distinct series (metric × tag set), hashed, are msgSeries[msgSeriesEnd[i-1] .. msgSeriesEnd[i]). */
  msgSeriesEnd: Uint32Array;
  msgSeries: Uint32Array;
  /** Per message: why it was refused ('' when accepted). */
  details: string[];
  /** The job's own buffers, handed back (moved from a worker) so the builder reuses them: DecodeJobBuilder.recycle. */
  jobBuffers?: { payloads: Uint8Array; meta: Uint32Array };
}

/** Number of messages in a job. */
export function jobMessageCount(job: DecodeJob): number {
  return job.meta.length / META_STRIDE;
}

/** Message i's payload bytes (a view, no copy). */
export function jobPayload(job: DecodeJob, i: number): Uint8Array {
  const at = i * META_STRIDE;
  const offset = job.meta[at + META_OFFSET]!;
  return job.payloads.subarray(offset, offset + job.meta[at + META_LENGTH]!);
}

/** Message i's distinct metric names (main thread, for the cardinality guard). */
export function resultMetrics(result: DecodeResult, i: number): string[] {
  const from = i === 0 ? 0 : result.msgMetricsEnd[i - 1]!;
  const to = result.msgMetricsEnd[i]!;
  const names = new Array<string>(to - from);
  for (let k = from; k < to; k++) names[k - from] = result.metricNames[result.msgMetrics[k]!]!;
  return names;
}

/**
 * Spare buffers a builder keeps for its next jobs, by payload capacity: jobs come in bursts
 * (a release lets many connections' reads in at once, each batch cut at batchMaxMessages),
 * up to decode.threads + decode.maxQueue of them in flight, and come back one by one.
 * Under the fleet load 2 or 4 spares left half the jobs allocating; 16 none after the
 * start, with ~90 MiB kept. Past this many bytes a returned buffer is dropped instead.
 */
const SPARE_BYTES = 64 * 1024 * 1024;

/**
 * Packs payloads on the main thread into one job. Buffers double when full; `take()`
 * hands the builder's own buffers to the job (they are transferred to a worker, not
 * copied) and goes on with a spare pair, and `recycle()` takes a decoded job's buffers
 * back as spares. Exact-size copies per job (`slice`) were 7 % of the gateway thread
 * under the fleet load: each a fresh zero-filled allocation of up to megabytes, page
 * faults and a copy, for a buffer that lived a few milliseconds.
 */
export class DecodeJobBuilder {
  private payloads: Uint8Array;
  private used = 0;
  private meta: Uint32Array;
  private count = 0;
  private strings: string[] = [];
  private stringIndex = new Map<string, number>();
  private readonly spares: { payloads: Uint8Array; meta: Uint32Array }[] = [];
  private spareBytes = 0;

  constructor(initialBytes = 64 * 1024, initialMessages = 256) {
    this.payloads = new Uint8Array(initialBytes);
    this.meta = new Uint32Array(initialMessages * META_STRIDE);
  }

  /** Messages added since the last take(). */
  get messageCount(): number {
    return this.count;
  }

  /** Payload bytes added since the last take(). */
  get byteLength(): number {
    return this.used;
  }

  /** Copies a payload in; returns its message index in the job. `deviceTags` is the device's canonical registry tag string ('' = none). */
  add(payload: Uint8Array, partition: number, deviceId: string, deviceTags: string, kind: JobKind): number {
    if (this.used + payload.length > this.payloads.length) {
      this.payloads = grow(this.payloads, this.used + payload.length, this.used);
    }
    if ((this.count + 1) * META_STRIDE > this.meta.length) {
      this.meta = grow(this.meta, (this.count + 1) * META_STRIDE, this.count * META_STRIDE);
    }
    this.payloads.set(payload, this.used);
    const at = this.count * META_STRIDE;
    const m = this.meta;
    m[at + META_OFFSET] = this.used;
    m[at + META_LENGTH] = payload.length;
    m[at + META_PARTITION] = partition;
    m[at + META_DEVICE] = this.intern(deviceId);
    m[at + META_DEVICE_TAGS] = this.intern(deviceTags);
    if (typeof kind === 'string') {
      m[at + META_KIND] = kind === 'json' ? KIND_JSON : KIND_PROTOBUF;
      m[at + META_TOPIC] = 0;
    } else if ('sparkplug' in kind) {
      m[at + META_KIND] = KIND_SPARKPLUG;
      m[at + META_TOPIC] = this.intern(kind.sparkplug);
    } else if ('status' in kind) {
      m[at + META_KIND] = KIND_STATUS;
      m[at + META_TOPIC] = this.intern(kind.status);
    } else {
      m[at + META_KIND] = KIND_MAPPED + kind.mapping;
      m[at + META_TOPIC] = this.intern(kind.topic);
    }
    this.used += payload.length;
    return this.count++;
  }

  /**
   * Returns the job (received now unless told) and its transfer list (pass both to
   * DecodePool.decode), and resets the builder. The job's payloads and meta are views of
   * the builder's buffers, which it no longer touches: it goes on with a spare pair (see
   * recycle) or, with none, new buffers of the same size.
   */
  take(receivedAtMs: number = Date.now()): { job: DecodeJob; transferList: ArrayBuffer[] } {
    const job: DecodeJob = {
      receivedAtMs,
      payloads: this.payloads.subarray(0, this.used),
      meta: this.meta.subarray(0, this.count * META_STRIDE),
      strings: this.strings,
    };
    const transferList = [this.payloads.buffer as ArrayBuffer, this.meta.buffer as ArrayBuffer];
    const spare = this.spares.pop();
    if (spare !== undefined) this.spareBytes -= spare.payloads.byteLength;
    this.payloads = spare?.payloads ?? new Uint8Array(this.payloads.length);
    this.meta = spare?.meta ?? new Uint32Array(this.meta.length);
    this.used = 0;
    this.count = 0;
    this.strings = [];
    this.stringIndex = new Map();
    return { job, transferList };
  }

  /** Takes a decoded job's buffers back (DecodeResult.jobBuffers) for later jobs; views of any part of them will do. */
  recycle(buffers: { payloads: Uint8Array; meta: Uint32Array }): void {
    const bytes = buffers.payloads.buffer.byteLength;
    if (bytes === 0 || this.spareBytes + bytes > SPARE_BYTES) return;
    this.spareBytes += bytes;
    this.spares.push({ payloads: new Uint8Array(buffers.payloads.buffer), meta: new Uint32Array(buffers.meta.buffer) });
  }

  private intern(s: string): number {
    let i = this.stringIndex.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.stringIndex.set(s, i);
    }
    return i;
  }
}

/**
 * A copy of `a` with at least `need` elements, keeping the first `keep`: doubling, and past
 * 1 Mi elements half again, so a batch just over batchMaxBytes (4 MiB) does not keep 8 MiB.
 */
function grow<T extends Uint8Array | Uint32Array>(a: T, need: number, keep: number): T {
  let size = Math.max(a.length, 16);
  while (size < need) size = size < 1 << 20 ? size * 2 : Math.ceil(size * 1.5);
  const next = new (a.constructor as new (n: number) => T)(size);
  next.set(a.subarray(0, keep));
  return next;
}
