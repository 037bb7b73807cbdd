/**
 * The internal columnar batch: one partition's readings from one gateway micro-batch,
 * as it travels gateway → log → processors. Layout in docs/batch-format.md.
 * Decoding gives typed-array views over the bytes (no per-reading objects).
 */
export interface ColumnarBatch {
  partition: number;
  /** Gateway receive time of the micro-batch, unix ms. */
  receivedAtMs: number;
  /** Dictionary of device ids, metric names and canonical tag sets ("k=v,k2=v2"; "" = none). */
  strings: string[];
  /** Per device message (one ReadingBatch payload): */
  msgDevice: Uint32Array;
  /** The device's registry tags, a string index. */
  msgDeviceTags: Uint32Array;
  /** ReadingBatch.seq; exact up to 2^53 − 1 (larger values are refused at the gateway). */
  msgSeq: Float64Array;
  /** MSG_FLAG_* bits: dropped by the gateway after decode (cardinality guard), or a device status record; 0 for readings. */
  msgFlags: Uint8Array;
  /** Numeric readings of message i are [numEnd[i-1], numEnd[i]); text ones likewise with textEnd. */
  numEnd: Uint32Array;
  textEnd: Uint32Array;
  /** Numeric readings (double and int values): */
  metric: Uint32Array;
  tags: Uint32Array;
  time: Float64Array;
  value: Float64Array;
  /** Text readings (bool and string values; stored raw, never aggregated): */
  textMetric: Uint32Array;
  textTags: Uint32Array;
  textTime: Float64Array;
  /** 1 = bool (textValue 0/1), 2 = string (textValue is a string index). */
  textKind: Uint8Array;
  textValue: Uint32Array;
  /**
   * Int readings (Reading.int_value) exactly, one entry per int reading: the index of the
   * numeric reading (ascending) and its sint64 value. `value` holds the same reading as the
   * nearest double (what windows aggregate); past 2^53 only this column is exact. Empty in
   * batches of version 1, which kept int readings as doubles only.
   */
  intAt: Uint32Array;
  intValue: BigInt64Array;
}

/** Bit 0: dropped by the gateway after decode (cardinality guard); readers skip the message. */
export const MSG_FLAG_DROPPED = 1;
/**
 * Bit 1: not readings but one device status change (online or offline, docs/batch-format.md):
 * exactly one bool text reading whose metric is the event (e.g. `NBIRTH`), tags the status
 * point's own tags, time its time and value 1 = online. Written by the gateway since Sparkplug B
 * device status (issue 17); a record from before never has it.
 */
export const MSG_FLAG_STATUS = 2;
/**
 * Bit 2: some reading of the message had no event time (time 0), so the gateway stamped it
 * with the receive time: a re-send of the message gets a later time, so its times cannot
 * tell a re-send from new data (processors/dedup.ts). A record from before never has it.
 */
export const MSG_FLAG_RECEIVE_TIME = 4;
/** The flags of messages that carry no readings to aggregate, store or de-duplicate. */
export const MSG_FLAGS_NOT_READINGS = MSG_FLAG_DROPPED | MSG_FLAG_STATUS;
export const TEXT_KIND_BOOL = 1;
export const TEXT_KIND_STRING = 2;

const MAGIC = 0x42434c53; // "SLCB" little-endian
/**
 * 3: numeric readings' metric and tags as runs (runEnd, runMetric, runTags) instead of a
 * u32 each per reading, written when that is smaller: a Series puts the same pair on its
 * every reading, 8 of the 24 bytes a reading that snappy scanned on both sides of the log.
 * The header grows to 48 bytes (nRuns at 40, flags at 44). With flag TIME_AS_DELTAS the
 * time column goes too: each run has its first reading's time (runTime, f64) and each
 * reading an i32 offset from it (timeDelta), written when every time is exactly that;
 * epoch milliseconds change only in their low bytes, and 8 bytes a reading were the
 * largest column left. Readers expand runs back into the per-reading columns, so
 * ColumnarBatch is the same whatever version was read.
 * 2: int readings exactly (the intValue and intAt columns after textKind, their count in
 * the header's formerly reserved u32 at offset 12). Version 1 is still read: it is version
 * 2 without int columns, so a batch without int readings is written as version 1, byte for
 * byte what the version before wrote, which processors of that version can still read
 * while a cluster is upgraded (gateways before processors).
 */
const VERSION = 3;
const OLDEST_READ = 1;
const HEADER_BYTES = 40;
const HEADER_BYTES_V3 = 48;
/** Version 3 flag (header u32 at 44): time as runTime + timeDelta instead of a per-reading f64. */
const TIME_AS_DELTAS = 1;

/** Run columns of the batch being encoded, reused across calls (encoding is synchronous). */
let runEndScratch = new Uint32Array(256);
let runMetricScratch = new Uint32Array(256);
let runTagsScratch = new Uint32Array(256);
let runTimeScratch = new Float64Array(256);
let timeDeltaScratch = new Int32Array(256);
/** Whether every time of the last findRuns() is its run's time plus an exact int32 (timeDeltaScratch). */
let deltasFit = false;

/** Splits the numeric readings into runs of one (metric, tags) pair, into the scratch columns; returns how many. */
function findRuns(metric: Uint32Array, tags: Uint32Array, time: Float64Array): number {
  const n = metric.length;
  if (runEndScratch.length < n) {
    const size = Math.max(n, runEndScratch.length * 2);
    runEndScratch = new Uint32Array(size);
    runMetricScratch = new Uint32Array(size);
    runTagsScratch = new Uint32Array(size);
    runTimeScratch = new Float64Array(size);
    timeDeltaScratch = new Int32Array(size);
  }
  let runs = 0;
  let m = -1;
  let t = -1;
  let base = 0;
  let fit = true;
  for (let i = 0; i < n; i++) {
    const mi = metric[i]!;
    const ti = tags[i]!;
    const time_ = time[i]!;
    if (mi !== m || ti !== t) {
      if (runs > 0) runEndScratch[runs - 1] = i;
      runMetricScratch[runs] = m = mi;
      runTagsScratch[runs] = t = ti;
      runTimeScratch[runs] = base = time_;
      runs++;
    }
    const delta = time_ - base;
    timeDeltaScratch[i] = delta;
    // Exact both ways: an int32, and adding it back gives the same time.
    if ((delta | 0) !== delta || base + delta !== time_) fit = false;
  }
  if (runs > 0) runEndScratch[runs - 1] = n;
  deltasFit = fit;
  return runs;
}

const align8 = (n: number): number => (n + 7) & ~7;

/**
 * Serialises a batch into one contiguous buffer (columns 8-byte aligned). `alloc` gives
 * the zero-filled buffer of the size asked (default: a new one); the bytes written are
 * the same whichever buffer they go to.
 *
 * Hot in the gateway (one call per partition per micro-batch, tens of thousands a second
 * under paced load), so it allocates nothing per column: each column goes in with one
 * TypedArray#set into a Float64Array or Uint32Array view of the output (a memcpy for the
 * same element type), and the offsets are computed as it goes, in layout order.
 */
export function encodeColumnarBatch(b: ColumnarBatch, alloc: (bytes: number) => Buffer = Buffer.alloc): Uint8Array {
  const nStrings = b.strings.length;
  // Buffer.byteLength + Buffer#write beat TextEncoder several times over for short strings.
  let stringBytes = 0;
  for (let i = 0; i < nStrings; i++) stringBytes += Buffer.byteLength(b.strings[i]!, 'utf8');
  const nMsgs = b.msgDevice.length;
  const nNum = b.metric.length;
  const nText = b.textMetric.length;
  const nInt = b.intAt.length;
  const nRuns = findRuns(b.metric, b.tags, b.time);
  // Runs when their columns are smaller than the per-reading ones (per reading 16 bytes of
  // time, metric and tags against 4 of timeDelta, per run 20; without deltas 8 against 12);
  // otherwise the version before, which processors of that version still read.
  const deltas = deltasFit && 5 * nRuns < 3 * nNum;
  const runs = deltas || 3 * nRuns < 2 * nNum;
  const stringsAt = runs ? HEADER_BYTES_V3 : HEADER_BYTES;
  const blobAt = stringsAt + 4 * (nStrings + 1);
  const columnsAt = align8(blobAt + stringBytes);
  // 8-byte columns first, then 4-byte, then 1-byte: every view stays naturally aligned.
  // Version 2's int columns come after every column of version 1: an int-free batch has the same layout.
  const bytes =
    columnsAt +
    8 * (nMsgs + (deltas ? 0 : nNum) + nNum + nText + (deltas ? nRuns : 0)) +
    align8(4 * nMsgs) * 4 + (runs ? align8(4 * nRuns) * 3 + (deltas ? align8(4 * nNum) : 0) : align8(4 * nNum) * 2) + align8(4 * nText) * 3 +
    align8(nMsgs) + align8(nText) +
    8 * nInt + align8(4 * nInt);

  const out = alloc(bytes);
  // The views need 8-byte alignment; Buffer.alloc and pooled Buffers have it, a caller's slice may not.
  const aligned = (out.byteOffset & 7) === 0;
  const f64 = aligned ? new Float64Array(out.buffer, out.byteOffset, bytes >>> 3) : undefined;
  const u32 = aligned ? new Uint32Array(out.buffer, out.byteOffset, bytes >>> 2) : undefined;
  const view = aligned ? undefined : new DataView(out.buffer, out.byteOffset, out.byteLength);
  const put32 = (at: number, v: number): void => (u32 ? void (u32[at >>> 2] = v) : view!.setUint32(at, v, true));
  put32(0, MAGIC);
  // A u16 at 4 followed by two zero bytes: as a u32, on the little-endian hosts the columns already assume.
  put32(4, runs ? VERSION : nInt === 0 ? OLDEST_READ : 2);
  put32(8, b.partition);
  put32(12, nInt);
  if (f64) f64[2] = b.receivedAtMs;
  else view!.setFloat64(16, b.receivedAtMs, true);
  put32(24, nStrings);
  put32(28, nMsgs);
  put32(32, nNum);
  put32(36, nText);
  if (runs) {
    put32(40, nRuns);
    put32(44, deltas ? TIME_AS_DELTAS : 0);
  }
  let pos = 0;
  for (let i = 0; i < nStrings; i++) {
    put32(stringsAt + 4 * i, pos);
    pos += out.write(b.strings[i]!, blobAt + pos, 'utf8');
  }
  put32(stringsAt + 4 * nStrings, pos);
  let at = columnsAt;
  if (f64 && u32) {
    at = put64(f64, at, b.msgSeq);
    if (!deltas) at = put64(f64, at, b.time);
    at = put64(f64, at, b.value);
    at = put64(f64, at, b.textTime);
    if (deltas) at = put64(f64, at, runTimeScratch.subarray(0, nRuns));
    at = put32s(u32, at, b.msgDevice);
    at = put32s(u32, at, b.msgDeviceTags);
    at = put32s(u32, at, b.numEnd);
    at = put32s(u32, at, b.textEnd);
    if (runs) {
      at = put32s(u32, at, runEndScratch.subarray(0, nRuns));
      at = put32s(u32, at, runMetricScratch.subarray(0, nRuns));
      at = put32s(u32, at, runTagsScratch.subarray(0, nRuns));
      if (deltas) at = put32s(u32, at, new Uint32Array(timeDeltaScratch.buffer, 0, nNum));
    } else {
      at = put32s(u32, at, b.metric);
      at = put32s(u32, at, b.tags);
    }
    at = put32s(u32, at, b.textMetric);
    at = put32s(u32, at, b.textTags);
    at = put32s(u32, at, b.textValue);
    at = putBytes(out, at, b.msgFlags);
    at = putBytes(out, at, b.textKind);
    at = putBytes(out, at, b.intValue);
    at = put32s(u32, at, b.intAt);
  } else {
    const numeric: ArrayBufferView[] = runs ? [runEndScratch.subarray(0, nRuns), runMetricScratch.subarray(0, nRuns), runTagsScratch.subarray(0, nRuns)] : [b.metric, b.tags];
    if (deltas) numeric.push(timeDeltaScratch.subarray(0, nNum));
    const times = deltas ? [b.value, b.textTime, runTimeScratch.subarray(0, nRuns)] : [b.time, b.value, b.textTime];
    for (const c of [b.msgSeq, ...times, b.msgDevice, b.msgDeviceTags, b.numEnd, b.textEnd, ...numeric, b.textMetric, b.textTags, b.textValue, b.msgFlags, b.textKind, b.intValue, b.intAt]) {
      at = putBytes(out, at, c);
    }
  }
  if (at !== bytes) throw new Error(`columnar batch encoding wrote ${at} bytes of the ${bytes} it sized: a layout bug`);
  return out;
}

/**
 * Column writers for encodeColumnarBatch: each copies one column at byte offset `at` and
 * returns the next column's offset. Below SMALL_COLUMN elements a loop beats
 * TypedArray#set, whose fixed cost dominated the gateway's one- and two-reading records.
 */
const SMALL_COLUMN = 32;

function put64(out: Float64Array, at: number, c: Float64Array): number {
  const n = c.length;
  const first = at >>> 3;
  if (n < SMALL_COLUMN) for (let i = 0; i < n; i++) out[first + i] = c[i]!;
  else out.set(c, first);
  return at + 8 * n;
}

function put32s(out: Uint32Array, at: number, c: Uint32Array): number {
  const n = c.length;
  const first = at >>> 2;
  if (n < SMALL_COLUMN) for (let i = 0; i < n; i++) out[first + i] = c[i]!;
  else out.set(c, first);
  return align8(at + 4 * n);
}

function putBytes(out: Buffer, at: number, c: ArrayBufferView): number {
  if (c.byteLength === 0) return at;
  const bytes = c instanceof Uint8Array ? c : new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
  if (bytes.length < SMALL_COLUMN) for (let i = 0; i < bytes.length; i++) out[at + i] = bytes[i]!;
  else out.set(bytes, at);
  return align8(at + c.byteLength);
}

/** Byte offset of the msgFlags column inside an encoded batch, so the gateway can set a flag in place. */
export function msgFlagsOffset(encoded: Uint8Array): number {
  return columnOffsets(readHeader(encoded)).msgFlags;
}

interface Header {
  partition: number;
  receivedAtMs: number;
  nStrings: number;
  nMsgs: number;
  nNum: number;
  nText: number;
  nInt: number;
  /** Numeric runs (version 3); undefined in a batch with a metric and tags column per reading. */
  nRuns: number | undefined;
  /** Version 3: time as runTime + timeDelta (TIME_AS_DELTAS). */
  timeDeltas: boolean;
  /** Where the string dictionary's offsets start. */
  stringsAt: number;
  stringBlobBytes: number;
  view: DataView;
}

function readHeader(bytes: Uint8Array): Header {
  if (bytes.byteLength < HEADER_BYTES) throw new RangeError(`columnar batch too short: ${bytes.byteLength} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new RangeError('not a columnar batch: bad magic');
  const version = view.getUint16(4, true);
  if (version < OLDEST_READ || version > VERSION) throw new RangeError(`columnar batch version ${version} is not supported (this version reads ${OLDEST_READ} to ${VERSION})`);
  const nStrings = view.getUint32(24, true);
  const stringsAt = version >= 3 ? HEADER_BYTES_V3 : HEADER_BYTES;
  if (bytes.byteLength < stringsAt + 4 * (nStrings + 1)) throw new RangeError(`columnar batch truncated: ${bytes.byteLength} bytes cannot hold ${nStrings} strings`);
  return {
    partition: view.getUint32(8, true),
    receivedAtMs: view.getFloat64(16, true),
    nStrings,
    nMsgs: view.getUint32(28, true),
    nNum: view.getUint32(32, true),
    nText: view.getUint32(36, true),
    nInt: version >= 2 ? view.getUint32(12, true) : 0,
    nRuns: version >= 3 ? view.getUint32(40, true) : undefined,
    timeDeltas: version >= 3 && readFlags(view) === TIME_AS_DELTAS,
    stringsAt,
    stringBlobBytes: view.getUint32(stringsAt + 4 * nStrings, true),
    view,
  };
}

/** A version 3 header's flags; a bit this version does not know is refused, not ignored. */
function readFlags(view: DataView): number {
  const flags = view.getUint32(44, true);
  if ((flags & ~TIME_AS_DELTAS) !== 0) throw new RangeError(`columnar batch flags ${flags} are not supported (this version knows ${TIME_AS_DELTAS})`);
  return flags;
}

function columnOffsets(h: Header): Record<string, number> {
  let at = align8(h.stringsAt + 4 * (h.nStrings + 1) + h.stringBlobBytes);
  const offsets: Record<string, number> = {};
  const numeric: [string, number][] =
    h.nRuns === undefined
      ? [['metric', 4 * h.nNum], ['tags', 4 * h.nNum]]
      : [['runEnd', 4 * h.nRuns], ['runMetric', 4 * h.nRuns], ['runTags', 4 * h.nRuns], ['timeDelta', h.timeDeltas ? 4 * h.nNum : 0]];
  const sizes: [string, number][] = [
    ['msgSeq', 8 * h.nMsgs], ['time', h.timeDeltas ? 0 : 8 * h.nNum], ['value', 8 * h.nNum], ['textTime', 8 * h.nText], ['runTime', h.timeDeltas ? 8 * h.nRuns! : 0],
    ['msgDevice', 4 * h.nMsgs], ['msgDeviceTags', 4 * h.nMsgs], ['numEnd', 4 * h.nMsgs], ['textEnd', 4 * h.nMsgs],
    ...numeric, ['textMetric', 4 * h.nText], ['textTags', 4 * h.nText],
    ['textValue', 4 * h.nText], ['msgFlags', h.nMsgs], ['textKind', h.nText],
    ['intValue', 8 * h.nInt], ['intAt', 4 * h.nInt],
  ];
  for (const [name, bytes] of sizes) {
    offsets[name] = at;
    at = align8(at + bytes);
  }
  offsets.end = at;
  return offsets;
}

/** Arrays a version 3 batch's runs are expanded into: at least `length` entries each, which a caller may reuse from batch to batch. */
export interface ExpansionScratch {
  u32(length: number): Uint32Array;
  f64(length: number): Float64Array;
}

const FRESH: ExpansionScratch = { u32: (n) => new Uint32Array(n), f64: (n) => new Float64Array(n) };

/**
 * Reads an encoded batch; columns are views over `bytes` (copied once if it is misaligned),
 * except a version 3 batch's metric, tags and time, expanded from its runs into `scratch`
 * (default: new arrays).
 */
export function decodeColumnarBatch(input: Uint8Array, scratch: ExpansionScratch = FRESH): ColumnarBatch {
  const bytes = input.byteOffset % 8 === 0 ? input : input.slice();
  const h = readHeader(bytes);
  const o = columnOffsets(h);
  if (o.end! > bytes.byteLength) throw new RangeError(`columnar batch truncated: needs ${o.end} bytes, has ${bytes.byteLength}`);
  const base = bytes.byteOffset;
  const buf = bytes.buffer;
  const f64 = (name: string, n: number): Float64Array => new Float64Array(buf, base + o[name]!, n);
  const u32 = (name: string, n: number): Uint32Array => new Uint32Array(buf, base + o[name]!, n);
  const u8 = (name: string, n: number): Uint8Array => new Uint8Array(buf, base + o[name]!, n);
  const i64 = (name: string, n: number): BigInt64Array => new BigInt64Array(buf, base + o[name]!, n);
  const decoder = new TextDecoder();
  const blobAt = h.stringsAt + 4 * (h.nStrings + 1);
  const strings = new Array<string>(h.nStrings);
  let numeric: { metric: Uint32Array; tags: Uint32Array } | undefined;
  let time: Float64Array;
  if (h.nRuns === undefined) {
    time = f64('time', h.nNum);
  } else {
    const runEnd = u32('runEnd', h.nRuns);
    numeric = expandRuns(runEnd, u32('runMetric', h.nRuns), u32('runTags', h.nRuns), h.nNum, scratch.u32(2 * h.nNum));
    time = h.timeDeltas ? expandTime(runEnd, f64('runTime', h.nRuns), new Int32Array(buf, base + o.timeDelta!, h.nNum), h.nNum, scratch.f64(h.nNum)) : f64('time', h.nNum);
  }
  for (let i = 0; i < h.nStrings; i++) {
    const from = h.view.getUint32(h.stringsAt + 4 * i, true);
    const to = h.view.getUint32(h.stringsAt + 4 * (i + 1), true);
    strings[i] = decoder.decode(bytes.subarray(blobAt + from, blobAt + to));
  }
  return {
    partition: h.partition,
    receivedAtMs: h.receivedAtMs,
    strings,
    msgDevice: u32('msgDevice', h.nMsgs),
    msgDeviceTags: u32('msgDeviceTags', h.nMsgs),
    msgSeq: f64('msgSeq', h.nMsgs),
    msgFlags: u8('msgFlags', h.nMsgs),
    numEnd: u32('numEnd', h.nMsgs),
    textEnd: u32('textEnd', h.nMsgs),
    metric: numeric === undefined ? u32('metric', h.nNum) : numeric.metric,
    tags: numeric === undefined ? u32('tags', h.nNum) : numeric.tags,
    time,
    value: f64('value', h.nNum),
    textMetric: u32('textMetric', h.nText),
    textTags: u32('textTags', h.nText),
    textTime: f64('textTime', h.nText),
    textKind: u8('textKind', h.nText),
    textValue: u32('textValue', h.nText),
    intAt: u32('intAt', h.nInt),
    intValue: i64('intValue', h.nInt),
  };
}

/** Runs shorter than this are written by a loop: TypedArray#fill's fixed cost dominates a run of a few readings. */
const SHORT_RUN = 16;

/** A version 3 batch's runs as the per-reading metric and tags columns (the two halves of `into`). */
function expandRuns(runEnd: Uint32Array, runMetric: Uint32Array, runTags: Uint32Array, nNum: number, into: Uint32Array): { metric: Uint32Array; tags: Uint32Array } {
  const metric = into.subarray(0, nNum);
  const tags = into.subarray(nNum, 2 * nNum);
  let from = 0;
  for (let j = 0; j < runEnd.length; j++) {
    const to = runEnd[j]!;
    if (to <= from || to > nNum) throw new RangeError(`columnar batch corrupt: run ${j} ends at ${to}, after ${from}, of ${nNum} readings`);
    const m = runMetric[j]!;
    const t = runTags[j]!;
    if (to - from < SHORT_RUN) {
      for (let i = from; i < to; i++) {
        metric[i] = m;
        tags[i] = t;
      }
    } else {
      metric.fill(m, from, to);
      tags.fill(t, from, to);
    }
    from = to;
  }
  if (from !== nNum) throw new RangeError(`columnar batch corrupt: its runs cover ${from} of ${nNum} readings`);
  return { metric, tags };
}

/** A TIME_AS_DELTAS batch's time column: each run's time plus each reading's offset (runs already checked by expandRuns). */
function expandTime(runEnd: Uint32Array, runTime: Float64Array, timeDelta: Int32Array, nNum: number, into: Float64Array): Float64Array {
  const time = into.subarray(0, nNum);
  let from = 0;
  for (let j = 0; j < runEnd.length; j++) {
    const to = runEnd[j]!;
    const base = runTime[j]!;
    for (let i = from; i < to; i++) time[i] = base + timeDelta[i]!;
    from = to;
  }
  return time;
}
