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
/** The flags of messages that carry no readings to aggregate, store or de-duplicate. */
export const MSG_FLAGS_NOT_READINGS = MSG_FLAG_DROPPED | MSG_FLAG_STATUS;
export const TEXT_KIND_BOOL = 1;
export const TEXT_KIND_STRING = 2;

const MAGIC = 0x42434c53; // "SLCB" little-endian
/**
 * 2: int readings exactly (the intValue and intAt columns after textKind, their count in
 * the header's formerly reserved u32 at offset 12). Version 1 is still read: it is version
 * 2 without int columns, so a batch without int readings is written as version 1, byte for
 * byte what the version before wrote, which processors of that version can still read
 * while a cluster is upgraded (gateways before processors).
 */
const VERSION = 2;
const OLDEST_READ = 1;
const HEADER_BYTES = 40;

const align8 = (n: number): number => (n + 7) & ~7;

/**
 * Serialises a batch into one contiguous buffer (columns 8-byte aligned). `alloc` gives
 * the zero-filled buffer of the size asked (default: a new one); the bytes written are
 * the same whichever buffer they go to.
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
  const stringsAt = HEADER_BYTES;
  const blobAt = stringsAt + 4 * (nStrings + 1);
  let at = align8(blobAt + stringBytes);
  const columns: ArrayBufferView[] = [
    // 8-byte columns first, then 4-byte, then 1-byte: every view stays naturally aligned.
    b.msgSeq, b.time, b.value, b.textTime,
    b.msgDevice, b.msgDeviceTags, b.numEnd, b.textEnd, b.metric, b.tags, b.textMetric, b.textTags, b.textValue,
    b.msgFlags, b.textKind,
    // Version 2, after every column of version 1: an int-free batch has the same layout.
    b.intValue, b.intAt,
  ];
  const offsets = new Array<number>(columns.length);
  for (let c = 0; c < columns.length; c++) {
    offsets[c] = at;
    at = align8(at + columns[c]!.byteLength);
  }

  const out = alloc(at);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(0, MAGIC, true);
  view.setUint16(4, nInt === 0 ? OLDEST_READ : VERSION, true);
  view.setUint32(8, b.partition, true);
  view.setUint32(12, nInt, true);
  view.setFloat64(16, b.receivedAtMs, true);
  view.setUint32(24, nStrings, true);
  view.setUint32(28, nMsgs, true);
  view.setUint32(32, nNum, true);
  view.setUint32(36, nText, true);
  let pos = 0;
  for (let i = 0; i < nStrings; i++) {
    view.setUint32(stringsAt + 4 * i, pos, true);
    pos += out.write(b.strings[i]!, blobAt + pos, 'utf8');
  }
  view.setUint32(stringsAt + 4 * nStrings, pos, true);
  for (let c = 0; c < columns.length; c++) {
    const column = columns[c]!;
    out.set(new Uint8Array(column.buffer, column.byteOffset, column.byteLength), offsets[c]!);
  }
  return out;
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
  return {
    partition: view.getUint32(8, true),
    receivedAtMs: view.getFloat64(16, true),
    nStrings,
    nMsgs: view.getUint32(28, true),
    nNum: view.getUint32(32, true),
    nText: view.getUint32(36, true),
    nInt: version >= 2 ? view.getUint32(12, true) : 0,
    stringBlobBytes: view.getUint32(HEADER_BYTES + 4 * nStrings, true),
    view,
  };
}

function columnOffsets(h: Header): Record<string, number> {
  let at = align8(HEADER_BYTES + 4 * (h.nStrings + 1) + h.stringBlobBytes);
  const offsets: Record<string, number> = {};
  const sizes: [string, number][] = [
    ['msgSeq', 8 * h.nMsgs], ['time', 8 * h.nNum], ['value', 8 * h.nNum], ['textTime', 8 * h.nText],
    ['msgDevice', 4 * h.nMsgs], ['msgDeviceTags', 4 * h.nMsgs], ['numEnd', 4 * h.nMsgs], ['textEnd', 4 * h.nMsgs],
    ['metric', 4 * h.nNum], ['tags', 4 * h.nNum], ['textMetric', 4 * h.nText], ['textTags', 4 * h.nText],
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

/** Reads an encoded batch; columns are views over `bytes` (copied once if it is misaligned). */
export function decodeColumnarBatch(input: Uint8Array): ColumnarBatch {
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
  const blobAt = HEADER_BYTES + 4 * (h.nStrings + 1);
  const strings = new Array<string>(h.nStrings);
  for (let i = 0; i < h.nStrings; i++) {
    const from = h.view.getUint32(HEADER_BYTES + 4 * i, true);
    const to = h.view.getUint32(HEADER_BYTES + 4 * (i + 1), true);
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
    metric: u32('metric', h.nNum),
    tags: u32('tags', h.nNum),
    time: f64('time', h.nNum),
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
