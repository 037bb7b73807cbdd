import { encodeTagSet, MSG_FLAG_RECEIVE_TIME, ReadingBatch, readingIntValues, readRowOnlyBatch, readSeriesOnlyBatch, tagProblem, TEXT_KIND_BOOL, TEXT_KIND_STRING, type ColumnarBatchBuilder, type SeriesColumns } from '../../proto/index.js';
import type { PayloadLimits } from './config.js';
import type { MappingRules } from '../mappings/index.js';
import { parseJsonPayload } from './json-payload.js';
import { mapJsonPayload } from './mapped-json.js';
import { mapSparkplugPayload } from './sparkplug-payload.js';
import { toNumber64, type BatchFields, type ReadingFields } from './payload-fields.js';
import { REASON_CODE, type ReasonCode } from './reasons.js';

/** How a payload is encoded: the topic says (…/telemetry or …/telemetry/json). */
export type PayloadKind = 'protobuf' | 'json';

/** What decodePayload needs besides the bytes; indices are into the builder's string dictionary. */
export interface DecodeContext {
  receivedAtMs: number;
  deviceIdx: number;
  deviceTagsIdx: number;
  limits: PayloadLimits;
}

/** One payload's outcome: accepted (reason 0) with its readings written, or refused whole. */
export interface PayloadOutcome {
  reason: ReasonCode;
  /** Why, for the dead-letter record (set on refusal only). */
  detail?: string;
  /** Readings written (0 when refused). */
  readings: number;
  /** Distinct metric names of an accepted payload, for the main thread's cardinality guard. */
  metrics: string[];
  /** Distinct series of an accepted payload: the metric name, or `metric\u0000tags` for tagged readings. */
  series: string[];
}

/**
 * The distinct names of one payload, in first-seen order. Below a few names a scan is
 * cheaper than clearing a Set per payload (Set.clear allocates a new table); past them, a
 * Set (a payload may carry thousands).
 */
class DistinctNames {
  list: string[] = [];
  private seen: Set<string> | null = null;

  reset(): void {
    this.list = [];
    this.seen = null;
  }

  add(name: string): void {
    const list = this.list;
    if (this.seen !== null) {
      if (this.seen.has(name)) return;
      this.seen.add(name);
    } else if (list.includes(name)) {
      return;
    } else if (list.length === 16) {
      this.seen = new Set(list).add(name);
    }
    list.push(name);
  }
}

const METRIC_NAME = /^[A-Za-z0-9_.:/-]+$/;
const NO_METRICS: string[] = [];
const NO_NUMBERS: ArrayLike<number> = [];

/** Decodes, validates and writes one payload into `builder` as one message; a payload with any bad reading is refused whole. */
export function decodePayload(
  bytes: Uint8Array,
  kind: PayloadKind,
  ctx: DecodeContext,
  builder: ColumnarBatchBuilder,
): PayloadOutcome {
  if (kind === 'protobuf') {
    let batch: BatchFields;
    try {
      // A Series-only payload, or one of untagged double readings, is read as columns,
      // without an object per Series or reading.
      const columns = readSeriesOnlyBatch(bytes) ?? readRowOnlyBatch(bytes);
      if (columns !== undefined) {
        const out = writer.writeColumns(columns, ctx, builder);
        // Rows are refused in the row decoder's words (readings[i], not series[k]): refusals are rare, so they are read again.
        if (out.reason === REASON_CODE.accepted || !columns.fromRows) return out;
      }
      // Decoded 64-bit values are numbers (Long is disabled) whatever the typings say
      // (pbts may emit number|Long); absent ones are handled by toNumber64.
      batch = ReadingBatch.decode(bytes) as BatchFields;
    } catch (err) {
      // Every throw is this payload's problem: RangeError on truncation, TypeError on invalid UTF-8, Error on bad wire types.
      return refused(REASON_CODE.decode_error, `protobuf: ${err instanceof Error ? err.message : String(err)}`);
    }
    return writer.write(batch, ctx, builder, bytes);
  }
  const parsed = parseJsonPayload(bytes);
  if (typeof parsed === 'string') return refused(REASON_CODE.json_invalid, parsed);
  return writer.write(parsed, ctx, builder, null);
}

/** Maps, validates and writes one JSON payload from a mapped topic (`ingest.mappings`) into `builder` as one message. */
export function decodeMappedPayload(bytes: Uint8Array, rules: MappingRules, topic: string, ctx: DecodeContext, builder: ColumnarBatchBuilder): PayloadOutcome {
  const mapped = mapJsonPayload(bytes, rules, topic);
  if ('reason' in mapped) return refused(mapped.reason, mapped.detail);
  return writer.write(mapped, ctx, builder, null);
}

/** Decodes, resolves and writes one Sparkplug B payload (`job`: see sparkplug-payload.ts) into `builder` as one message. */
export function decodeSparkplugPayload(bytes: Uint8Array, job: string, ctx: DecodeContext, builder: ColumnarBatchBuilder): PayloadOutcome {
  const mapped = mapSparkplugPayload(bytes, job);
  if ('reason' in mapped) return refused(mapped.reason, mapped.detail);
  return writer.write(mapped, ctx, builder, null);
}

function refused(reason: ReasonCode, detail: string): PayloadOutcome {
  return { reason, detail, readings: 0, metrics: NO_METRICS, series: NO_METRICS };
}

/** Shows a device-supplied string in a detail, bounded so a dead letter stays small. */
function show(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
}

/**
 * Validates and writes one payload. One instance per thread, reused: per-payload state
 * lives in fields, and methods signal a refusal by returning a negative reason code
 * (with `detail` set) instead of allocating result objects per reading.
 */
class PayloadWriter {
  private b!: ColumnarBatchBuilder;
  private limits!: PayloadLimits;
  private receivedAtMs = 0;
  private earliest = 0;
  private latest = 0;
  private detail = '';
  private readonly metrics = new DistinctNames();
  private readonly series = new DistinctNames();
  /** The series key of the previous row reading of this payload: rows usually repeat it. */
  private lastSeries: string | null = null;
  /** The canonical tag string tagsIndex() interned last. */
  private lastTags = '';
  /** The tags object tagsIndex() interned last in this payload, and its index: a mapped payload's readings share one. */
  private lastTagsObject: Record<string, string> | null = null;
  private lastTagsIdx = 0;
  // Consecutive readings (and payloads) usually share a metric: validate and intern it
  // once per run. The index is the batch's (the builder's since its last reset).
  private lastMetric: string | null = null;
  private lastMetricBuilder: ColumnarBatchBuilder | null = null;
  private lastMetricGeneration = -1;
  private lastMetricIdx = 0;
  /** The protobuf payload being written (null for JSON, mapped and Sparkplug ones), and its exact int values once read. */
  private protobufBytes: Uint8Array | null = null;
  private exactInts: (bigint | undefined)[] | null = null;
  /** Some reading of this payload had time 0 and took the receive time (MSG_FLAG_RECEIVE_TIME). */
  private receiveTime = false;

  /** Writes one payload; `protobufBytes` are its bytes when it came as protobuf (to read int64 values exactly). */
  write(batch: BatchFields, ctx: DecodeContext, builder: ColumnarBatchBuilder, protobufBytes: Uint8Array | null): PayloadOutcome {
    const readings = batch.readings ?? [];
    const series = batch.series ?? [];
    let total = readings.length;
    for (let j = 0; j < series.length; j++) {
      const s = series[j]!;
      total += Math.max(s.values?.length ?? 0, s.timeDeltaMs?.length ?? 0);
    }
    const refusal = this.begin(toNumber64(batch.seq), total, ctx, builder, protobufBytes);
    if (refusal !== undefined) return refusal;
    for (let i = 0; i < readings.length; i++) {
      const code = this.writeReading(readings[i]!, i);
      if (code < 0) return this.abort(code, `readings[${i}]`);
    }
    for (let j = 0; j < series.length; j++) {
      const s = series[j]!;
      const deltas = s.timeDeltaMs ?? NO_NUMBERS;
      const values = s.values ?? NO_NUMBERS;
      const code = this.writeSeries(s.metric ?? '', toNumber64(s.startUnixMs), deltas, 0, deltas.length, values, 0, values.length);
      if (code < 0) return this.abort(code, `series[${j}]`);
    }
    return this.accepted(total);
  }

  /** Writes one protobuf payload read as columns (readSeriesOnlyBatch, readRowOnlyBatch): what write() does with its Series (or untagged double readings). */
  writeColumns(c: SeriesColumns, ctx: DecodeContext, builder: ColumnarBatchBuilder): PayloadOutcome {
    let total = 0;
    for (let k = 0; k < c.count; k++) total += Math.max(c.valueCount[k]!, c.deltaCount[k]!);
    const refusal = this.begin(c.seq, total, ctx, builder, null);
    if (refusal !== undefined) return refusal;
    for (let k = 0; k < c.count; k++) {
      const code = this.writeSeries(c.metric[k]!, c.start[k]!, c.deltas, c.deltaAt[k]!, c.deltaCount[k]!, c.values, c.valueAt[k]!, c.valueCount[k]!);
      if (code < 0) return this.abort(code, `series[${k}]`);
    }
    return this.accepted(total);
  }

  /** Checks a payload's seq and reading count, then opens its message; a refusal when either is out of bounds. */
  private begin(seq: number, total: number, ctx: DecodeContext, builder: ColumnarBatchBuilder, protobufBytes: Uint8Array | null): PayloadOutcome | undefined {
    if (seq > Number.MAX_SAFE_INTEGER) return refused(REASON_CODE.seq_out_of_range, `seq ${seq} is above 2^53 - 1`);
    if (total === 0) return refused(REASON_CODE.empty_batch, 'no readings and no series values');
    if (total > ctx.limits.maxReadingsPerMessage) {
      return refused(REASON_CODE.too_many_readings, `${total} readings, limit ${ctx.limits.maxReadingsPerMessage}`);
    }

    // The cached index is only valid in the dictionary it came from. The worker reuses ONE
    // builder and reset()s it per partition and per job, which empties the dictionary, so
    // "same builder object" is not enough: the builder's generation must match too (else a
    // cache hit would point the metric at another batch's string index).
    if (builder !== this.lastMetricBuilder || builder.generation !== this.lastMetricGeneration || ctx.limits !== this.limits) {
      this.lastMetric = null;
      this.lastMetricBuilder = builder;
      this.lastMetricGeneration = builder.generation;
    }
    this.b = builder;
    this.limits = ctx.limits;
    this.receivedAtMs = ctx.receivedAtMs;
    this.earliest = ctx.receivedAtMs - ctx.limits.timestampSkewPastMs;
    this.latest = ctx.receivedAtMs + ctx.limits.timestampSkewFutureMs;
    this.metrics.reset();
    this.series.reset();
    this.lastSeries = null;
    this.lastTagsObject = null;
    this.protobufBytes = protobufBytes;
    this.exactInts = null;
    this.receiveTime = false;
    builder.beginMessage(ctx.deviceIdx, ctx.deviceTagsIdx, seq);
    return undefined;
  }

  private accepted(total: number): PayloadOutcome {
    if (this.receiveTime) this.b.flagMessage(MSG_FLAG_RECEIVE_TIME);
    return { reason: REASON_CODE.accepted, readings: total, metrics: this.metrics.list, series: this.series.list };
  }

  private abort(negativeCode: number, where: string): PayloadOutcome {
    this.b.abortMessage();
    return refused(-negativeCode as ReasonCode, `${where}: ${this.detail}`);
  }

  private fail(reason: ReasonCode, detail: string): number {
    this.detail = detail;
    return -reason;
  }

  /** The metric's dictionary index, or a negative reason code. */
  private metricIndex(name: string): number {
    if (name === this.lastMetric) {
      // First use in this payload (a cache hit from the previous one): note it; later hits already are.
      if (this.metrics.list.length === 0) this.metrics.list.push(name);
      return this.lastMetricIdx;
    }
    if (name.length === 0) return this.fail(REASON_CODE.metric_name_invalid, 'metric name is empty');
    if (name.length > this.limits.maxMetricNameLength) {
      return this.fail(REASON_CODE.metric_name_too_long, `metric name ${show(name)} is ${name.length} characters, limit ${this.limits.maxMetricNameLength}`);
    }
    if (!METRIC_NAME.test(name)) {
      return this.fail(REASON_CODE.metric_name_invalid, `metric name ${show(name)} has characters outside [A-Za-z0-9_.:/-]`);
    }
    this.metrics.add(name);
    this.lastMetric = name;
    this.lastMetricIdx = this.b.intern(name);
    return this.lastMetricIdx;
  }

  private checkTime(t: number): number {
    if (t >= this.earliest && t <= this.latest) return 0;
    if (t > this.latest) {
      return this.fail(REASON_CODE.timestamp_future, `time ${t} is ${t - this.receivedAtMs} ms after the receive time ${this.receivedAtMs} (limit ${this.latest - this.receivedAtMs} ms): set the device's clock`);
    }
    return this.fail(REASON_CODE.timestamp_skew, `time ${t} is outside [${this.earliest}, ${this.latest}] (receive time ${this.receivedAtMs})`);
  }

  private writeReading(r: ReadingFields, index: number): number {
    const m = this.metricIndex(r.metric ?? '');
    if (m < 0) return m;
    let t = toNumber64(r.timeUnixMs);
    if (!t) {
      t = this.receivedAtMs; // 0 (unset) = receive time
      this.receiveTime = true;
    }
    const timeCheck = this.checkTime(t);
    if (timeCheck < 0) return timeCheck;
    const tags = this.tagsIndex(r.tags);
    if (tags < 0) return tags;
    const key = tags === 0 ? r.metric! : `${r.metric!}\u0000${this.lastTags}`;
    if (key !== this.lastSeries) {
      this.series.add(key);
      this.lastSeries = key;
    }
    const b = this.b;
    if (r.doubleValue != null) {
      const v = r.doubleValue;
      if (v - v !== 0) return this.fail(REASON_CODE.non_finite_value, `value ${v} is not finite`); // NaN and ±Infinity
      b.addNumeric(m, tags, t, v);
    } else if (r.intValue != null) {
      const v = r.intValue;
      // Only a value past 2^53 costs more than a double: protobuf rounded it, so read it again.
      if (typeof v === 'number' && (v > Number.MAX_SAFE_INTEGER || v < -Number.MAX_SAFE_INTEGER)) b.addInt(m, tags, t, this.exactInt(index, v));
      else b.addInt(m, tags, t, v);
    } else if (r.boolValue != null) {
      b.addText(m, tags, t, TEXT_KIND_BOOL, r.boolValue ? 1 : 0);
    } else if (r.stringValue != null) {
      b.addText(m, tags, t, TEXT_KIND_STRING, b.intern(r.stringValue));
    } else {
      return this.fail(REASON_CODE.no_value, 'reading has no value');
    }
    return 0;
  }

  /**
   * The exact int_value of reading `index` whose decoded number `v` is past 2^53. Protobuf:
   * read from the payload's bytes (once per payload). JSON: a number is all there is
   * (JSON.parse rounded it; exact values past 2^53 come as decimal strings, as bigint).
   */
  private exactInt(index: number, v: number): bigint {
    if (this.protobufBytes === null) return BigInt(v);
    this.exactInts ??= readingIntValues(this.protobufBytes);
    // Both read the same fields in the same order, so it is there; were it not, the rounded value beats failing the whole job.
    return this.exactInts[index] ?? BigInt(v);
  }

  /** The fast path: one metric, no tags, a tight loop over the packed arrays (`dn` deltas from `deltas[dAt]`, `vn` values from `values[vAt]`). */
  private writeSeries(metric: string, startUnixMs: number, deltas: ArrayLike<number>, dAt: number, dn: number, values: ArrayLike<number>, vAt: number, vn: number): number {
    const m = this.metricIndex(metric);
    if (m < 0) return m;
    this.series.add(metric);
    if (dn !== vn) return this.fail(REASON_CODE.series_length_mismatch, `${dn} time deltas for ${vn} values`);
    let start = startUnixMs;
    if (!start) {
      start = this.receivedAtMs;
      this.receiveTime = true;
    }
    // Checked as written; on a refusal the caller drops the whole message, this Series' part too.
    const bad = this.b.addCheckedRun(m, 0, start, deltas, values, dAt, vAt, vn, this.earliest, this.latest);
    if (bad < 0) return 0;
    const v = values[vAt + bad]!;
    if (v - v !== 0) return this.fail(REASON_CODE.non_finite_value, `values[${bad}] ${v} is not finite`);
    return this.checkTime(start + deltas[dAt + bad]!);
  }

  /** Interns the canonical tag string "k=v,k2=v2" (sorted by key; '' = index 0 when none), or a negative reason code. */
  private tagsIndex(tags: Record<string, string> | null | undefined): number {
    if (tags == null) return 0;
    if (tags === this.lastTagsObject) return this.lastTagsIdx;
    let any = false;
    for (const _key in tags) {
      any = true;
      break;
    }
    if (!any) return 0; // the common case: no allocation
    for (const k in tags) {
      const v = tags[k]!;
      const problem = tagProblem(k, v, this.limits.maxTagLength);
      if (problem !== undefined) return this.fail(REASON_CODE.tag_invalid, `tag ${show(k)}=${show(v)}: ${problem}`);
    }
    const canonical = encodeTagSet(tags);
    this.lastTags = canonical;
    this.lastTagsObject = tags;
    this.lastTagsIdx = this.b.intern(canonical);
    return this.lastTagsIdx;
  }
}

const writer = new PayloadWriter();
