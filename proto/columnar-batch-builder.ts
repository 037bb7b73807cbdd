import { encodeColumnarBatch, MSG_FLAG_DROPPED, type ColumnarBatch } from './columnar-batch.js';

/** A typed array that doubles when full; `view()` is the filled part, no copy. */
class GrowableF64 {
  data: Float64Array;
  length = 0;
  constructor(capacity: number) {
    this.data = new Float64Array(capacity);
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  view(): Float64Array {
    return this.data.subarray(0, this.length);
  }
  /** Makes room for `n` more without growing again; returns where they start (`length` is moved past them). */
  reserve(n: number): number {
    const at = this.length;
    if (at + n > this.data.length) {
      const next = new Float64Array(Math.max(this.data.length * 2, at + n));
      next.set(this.data);
      this.data = next;
    }
    this.length = at + n;
    return at;
  }
}

class GrowableU32 {
  data: Uint32Array;
  length = 0;
  constructor(capacity: number) {
    this.data = new Uint32Array(capacity);
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  view(): Uint32Array {
    return this.data.subarray(0, this.length);
  }
  /** Makes room for `n` more without growing again; returns where they start (`length` is moved past them). */
  reserve(n: number): number {
    const at = this.length;
    if (at + n > this.data.length) {
      const next = new Uint32Array(Math.max(this.data.length * 2, at + n));
      next.set(this.data);
      this.data = next;
    }
    this.length = at + n;
    return at;
  }
}

/**
 * Accumulates one partition's messages and readings column by column, interning
 * strings, then encodes them as one buffer. Messages are opened with `beginMessage`,
 * filled with readings, and can be discarded with `abortMessage` when a later reading
 * of the same payload turns out invalid: a payload is accepted or refused whole.
 */
export class ColumnarBatchBuilder {
  private readonly stringIndex = new Map<string, number>();
  private strings: string[] = [];
  /** Bumped by every reset: string indices handed out before a reset mean nothing after it. */
  generation = 0;
  private readonly msgDevice = new GrowableU32(16);
  private readonly msgDeviceTags = new GrowableU32(16);
  private readonly msgSeq = new GrowableF64(16);
  private readonly numEnd = new GrowableU32(16);
  private readonly textEnd = new GrowableU32(16);
  private readonly metric = new GrowableU32(256);
  private readonly tags = new GrowableU32(256);
  private readonly time = new GrowableF64(256);
  private readonly value = new GrowableF64(256);
  private readonly textMetric = new GrowableU32(4);
  private readonly textTags = new GrowableU32(4);
  private readonly textTime = new GrowableF64(4);
  private readonly textKind: number[] = [];
  private readonly textValue = new GrowableU32(4);
  /** Int readings: the numeric reading's index, and its value as int64 words (low, high; little-endian, as the encoded column). */
  private readonly intAt = new GrowableU32(4);
  private readonly intWords = new GrowableU32(8);
  /** Flags of flagged messages, as pairs (message index, flags); almost every batch has none, so no column per message. */
  private readonly flagged: number[] = [];

  constructor(
    public partition: number,
    public receivedAtMs: number,
  ) {
    this.intern(''); // index 0 is always the empty tag set
  }

  /**
   * Empties the builder for a new batch, keeping its grown arrays: a worker reuses one
   * builder per partition across jobs instead of allocating seventeen arrays per partition
   * per job, which dominated small micro-batches.
   */
  reset(partition: number, receivedAtMs: number): void {
    this.generation++;
    this.partition = partition;
    this.receivedAtMs = receivedAtMs;
    this.stringIndex.clear();
    this.strings = [];
    this.intern('');
    // Column by column, not over an array literal: a reset runs per partition per micro-batch.
    this.msgDevice.length = this.msgDeviceTags.length = this.numEnd.length = this.textEnd.length = 0;
    this.metric.length = this.tags.length = this.textMetric.length = this.textTags.length = this.textValue.length = 0;
    this.intAt.length = this.intWords.length = 0;
    this.msgSeq.length = this.time.length = this.value.length = this.textTime.length = 0;
    // Setting a JS array's length is a runtime call even when it is already 0; most batches have neither.
    if (this.textKind.length !== 0) this.textKind.length = 0;
    if (this.flagged.length !== 0) this.flagged.length = 0;
  }

  /** The string's dictionary index, adding it if new. */
  intern(s: string): number {
    let i = this.stringIndex.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.stringIndex.set(s, i);
    }
    return i;
  }

  get messageCount(): number {
    return this.msgDevice.length;
  }

  get numericCount(): number {
    return this.metric.length;
  }

  /** Starts a message; returns its index in this batch. */
  beginMessage(device: number, deviceTags: number, seq: number): number {
    this.msgDevice.push(device);
    this.msgDeviceTags.push(deviceTags);
    this.msgSeq.push(seq);
    this.numEnd.push(this.metric.length);
    this.textEnd.push(this.textMetric.length);
    return this.msgDevice.length - 1;
  }

  /** Adds a numeric reading to the open message. */
  addNumeric(metric: number, tags: number, time: number, value: number): void {
    this.metric.push(metric);
    this.tags.push(tags);
    this.time.push(time);
    this.value.push(value);
    this.numEnd.data[this.numEnd.length - 1] = this.metric.length;
  }

  /**
   * Adds `n` numeric readings of one metric and tag set, reading k at `start +
   * deltas[deltaAt + k]` with `values[valueAt + k]` (a Series): the same columns as
   * addNumeric for each, with each column grown once and metric and tags filled in one
   * call each. The offsets let a caller pass runs of arrays it keeps, not views of them.
   */
  addNumericRun(metric: number, tags: number, start: number, deltas: ArrayLike<number>, values: ArrayLike<number>, deltaAt = 0, valueAt = 0, n = values.length): void {
    const at = this.metric.reserve(n);
    this.tags.reserve(n);
    this.time.reserve(n);
    this.value.reserve(n);
    this.metric.data.fill(metric, at, at + n);
    this.tags.data.fill(tags, at, at + n);
    const time = this.time.data;
    const value = this.value.data;
    for (let k = 0; k < n; k++) {
      time[at + k] = start + deltas[deltaAt + k]!;
      value[at + k] = values[valueAt + k]!;
    }
    this.numEnd.data[this.numEnd.length - 1] = at + n;
  }

  /**
   * addNumericRun for readings that must have a finite value and a time within [earliest,
   * latest], checked as they are written (one pass over the run, not two). Returns −1, or
   * the index in the run of the first reading that breaks either, with the run partly
   * written: the caller then drops the message (abortMessage).
   */
  addCheckedRun(metric: number, tags: number, start: number, deltas: ArrayLike<number>, values: ArrayLike<number>, deltaAt: number, valueAt: number, n: number, earliest: number, latest: number): number {
    const at = this.metric.reserve(n);
    this.tags.reserve(n);
    this.time.reserve(n);
    this.value.reserve(n);
    const time = this.time.data;
    const value = this.value.data;
    for (let k = 0; k < n; k++) {
      const t = start + deltas[deltaAt + k]!;
      const v = values[valueAt + k]!;
      if (v - v !== 0 || !(t >= earliest && t <= latest)) return k; // NaN and ±Infinity fail the first
      time[at + k] = t;
      value[at + k] = v;
    }
    this.metric.data.fill(metric, at, at + n);
    this.tags.data.fill(tags, at, at + n);
    this.numEnd.data[this.numEnd.length - 1] = at + n;
    return -1;
  }

  /**
   * Adds an int reading: as a numeric reading holding the nearest double (what windows
   * aggregate), and exactly in the int columns. A number must be a safe integer (the
   * decoder passes larger ones as bigint); a bigint must fit in int64.
   */
  addInt(metric: number, tags: number, time: number, value: number | bigint): void {
    let lo: number;
    let hi: number;
    if (typeof value === 'number') {
      this.addNumeric(metric, tags, time, value);
      // Two's complement words without a BigInt: exact for |value| <= 2^53.
      lo = value >>> 0;
      hi = Math.floor(value / 4294967296) >>> 0;
    } else {
      this.addNumeric(metric, tags, time, Number(value));
      lo = Number(BigInt.asUintN(32, value));
      hi = Number(BigInt.asUintN(32, value >> 32n));
    }
    this.intAt.push(this.metric.length - 1);
    this.intWords.push(lo);
    this.intWords.push(hi);
  }

  /** Adds a bool (kind 1, value 0/1) or string (kind 2, value = string index) reading. */
  addText(metric: number, tags: number, time: number, kind: number, value: number): void {
    this.textMetric.push(metric);
    this.textTags.push(tags);
    this.textTime.push(time);
    this.textKind.push(kind);
    this.textValue.push(value);
    this.textEnd.data[this.textEnd.length - 1] = this.textMetric.length;
  }

  /** Sets MSG_FLAG_* bits on the open message (MSG_FLAG_STATUS: a status record). */
  flagMessage(flags: number): void {
    this.flagged.push(this.msgDevice.length - 1, flags);
  }

  /** Drops the open message and its readings (interned strings stay; they are harmless). */
  abortMessage(): void {
    const i = this.msgDevice.length - 1;
    while (this.flagged.length > 0 && this.flagged[this.flagged.length - 2] === i) this.flagged.length -= 2;
    const numStart = i === 0 ? 0 : this.numEnd.data[i - 1]!;
    const textStart = i === 0 ? 0 : this.textEnd.data[i - 1]!;
    for (const col of [this.metric, this.tags]) col.length = numStart;
    let ints = this.intAt.length;
    while (ints > 0 && this.intAt.data[ints - 1]! >= numStart) ints--;
    this.intAt.length = ints;
    this.intWords.length = 2 * ints;
    for (const col of [this.time, this.value]) col.length = numStart;
    for (const col of [this.textMetric, this.textTags, this.textValue]) col.length = textStart;
    this.textTime.length = textStart;
    this.textKind.length = textStart;
    for (const col of [this.msgDevice, this.msgDeviceTags, this.numEnd, this.textEnd]) col.length = i;
    this.msgSeq.length = i;
  }

  /** The batch as columns (views over the builder's arrays). */
  build(): ColumnarBatch {
    const msgFlags = new Uint8Array(this.msgDevice.length);
    for (let k = 0; k < this.flagged.length; k += 2) {
      const m = this.flagged[k]!;
      msgFlags[m] = msgFlags[m]! | this.flagged[k + 1]!;
    }
    return {
      partition: this.partition,
      receivedAtMs: this.receivedAtMs,
      strings: this.strings,
      msgDevice: this.msgDevice.view(),
      msgDeviceTags: this.msgDeviceTags.view(),
      msgSeq: this.msgSeq.view(),
      msgFlags,
      numEnd: this.numEnd.view(),
      textEnd: this.textEnd.view(),
      metric: this.metric.view(),
      tags: this.tags.view(),
      time: this.time.view(),
      value: this.value.view(),
      textMetric: this.textMetric.view(),
      textTags: this.textTags.view(),
      textTime: this.textTime.view(),
      textKind: Uint8Array.from(this.textKind),
      textValue: this.textValue.view(),
      intAt: this.intAt.view(),
      intValue: new BigInt64Array(this.intWords.data.buffer, 0, this.intAt.length),
    };
  }

  /** Encodes the batch into one buffer. */
  encode(): Uint8Array {
    return encodeColumnarBatch(this.build());
  }
}

export { MSG_FLAG_DROPPED };
