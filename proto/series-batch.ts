import protobuf from 'protobufjs/minimal.js';
import './protobuf-numbers.js';

/**
 * A ReadingBatch that holds only Series (what high-rate devices send), read as columns:
 * no object, array or typed-array view per Series. Every Series' deltas and values go into
 * two Float64Arrays kept from payload to payload, and Series k is `metric[k]`, `start[k]`
 * and its runs `deltas[deltaAt[k] …]` and `values[valueAt[k] …]`. Under the fleet load the generated decoder's arrays were a
 * fifth of the decode worker; then, with a view object per Series, those views and their
 * metric strings were ~half of what the worker allocated.
 *
 * Only the plain shape is taken: field 1 (seq) at most once, then Series (field 3), each
 * with metric, start, packed deltas and packed values at most once apiece. Anything else
 * (readings, unknown fields, repeats, unpacked forms, bad lengths, truncation) returns
 * undefined, and the generated decoder reads the payload as before, so refusals and their
 * messages are unchanged. Numbers are read by the same Reader methods, so they are equal.
 */
export class SeriesColumns {
  seq = 0;
  /** Read from row-form Readings (readRowOnlyBatch), each a Series of one value at delta 0. */
  fromRows = false;
  /** Series in the payload; entries past it in the per-Series arrays are stale. */
  count = 0;
  metric: string[] = [];
  /** start_unix_ms (0 when absent). */
  start = new Float64Array(16);
  deltaAt = new Uint32Array(16);
  deltaCount = new Uint32Array(16);
  valueAt = new Uint32Array(16);
  valueCount = new Uint32Array(16);
  deltas = new Float64Array(1024);
  values = new Float64Array(1024);
  deltasUsed = 0;
  valuesUsed = 0;

  /** Room for Series `count` (the per-Series arrays double when full). */
  nextSeries(): number {
    const k = this.count;
    if (k === this.start.length) {
      this.start = grownF64(this.start, k + 1, k);
      this.deltaAt = grownU32(this.deltaAt, k + 1, k);
      this.deltaCount = grownU32(this.deltaCount, k + 1, k);
      this.valueAt = grownU32(this.valueAt, k + 1, k);
      this.valueCount = grownU32(this.valueCount, k + 1, k);
    }
    this.count = k + 1;
    return k;
  }

  /** Makes room for `n` more deltas, keeping those read so far. */
  reserveDeltas(n: number): void {
    if (this.deltasUsed + n > this.deltas.length) this.deltas = grownF64(this.deltas, this.deltasUsed + n, this.deltasUsed);
  }

  /** Makes room for `n` more values, keeping those read so far. */
  reserveValues(n: number): void {
    if (this.valuesUsed + n > this.values.length) this.values = grownF64(this.values, this.valuesUsed + n, this.valuesUsed);
  }
}

function grownF64(a: Float64Array, atLeast: number, keep: number): Float64Array<ArrayBuffer> {
  const next = new Float64Array(Math.max(a.length * 2, atLeast));
  next.set(a.subarray(0, keep));
  return next;
}

function grownU32(a: Uint32Array, atLeast: number, keep: number): Uint32Array<ArrayBuffer> {
  const next = new Uint32Array(Math.max(a.length * 2, atLeast));
  next.set(a.subarray(0, keep));
  return next;
}

const Reader = protobuf.Reader;
/** One Reader for every payload: its buf, pos and len are set per read. */
const reader = Reader.create(new Uint8Array(0));
/** The columns every read fills (here and in row-batch.ts): valid until the next read. */
const columns = new SeriesColumns();

/** Reads one length-delimited item (a Series, a Reading) of `length` bytes at the Reader's position into `c`; false when it is not of the plain shape. */
export type ItemReader = (r: protobuf.Reader, length: number, c: SeriesColumns) => boolean;

/**
 * Reads `bytes` as an optional seq (field 1, first) and then items of one field only (tag
 * byte `itemTag`), each read by `readItem`, into the kept columns; undefined when anything
 * else is there, or on any throw (the generated decoder then reads the payload).
 */
export function readColumnsOf(bytes: Uint8Array, itemTag: number, readItem: ItemReader, fromRows: boolean): SeriesColumns | undefined {
  if (firstFieldAfterSeq(bytes) !== itemTag) return undefined;
  const c = columns;
  c.seq = 0;
  c.count = 0;
  c.deltasUsed = 0;
  c.valuesUsed = 0;
  c.fromRows = fromRows;
  const r = reader;
  r.buf = bytes;
  r.pos = 0;
  r.len = bytes.length;
  try {
    return readItems(r, c, itemTag, readItem) ? c : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads `bytes` as a Series-only ReadingBatch, or undefined when it is anything else.
 * The columns are one object kept by this module: valid until the next call.
 */
export function readSeriesOnlyBatch(bytes: Uint8Array): SeriesColumns | undefined {
  return readColumnsOf(bytes, (3 << 3) | 2, readSeries, false);
}

/** The tag byte of the first field after an optional seq (undefined past the end): which form a payload is costs two byte reads, not a Reader. */
function firstFieldAfterSeq(bytes: Uint8Array): number | undefined {
  let p = 0;
  if (bytes[0] === ((1 << 3) | 0)) {
    p = 1;
    while (p < bytes.length && bytes[p]! >= 128) p++;
    p++;
  }
  return bytes[p];
}

function readItems(r: protobuf.Reader, c: SeriesColumns, itemTag: number, readItem: ItemReader): boolean {
  let seenSeq = false;
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | 0) && !seenSeq && c.count === 0) {
      c.seq = r.uint64() as unknown as number;
      seenSeq = true;
    } else if (tag === itemTag) {
      if (!readItem(r, r.uint32(), c)) return false;
    } else {
      return false;
    }
  }
  return true;
}

function readSeries(r: protobuf.Reader, length: number, c: SeriesColumns): boolean {
  const end = r.pos + length;
  if (end > r.len) return false;
  const k = c.nextSeries();
  let metric: string | undefined;
  let start: number | undefined;
  let deltas = false;
  let values = false;
  c.deltaAt[k] = c.deltasUsed;
  c.deltaCount[k] = 0;
  c.valueAt[k] = c.valuesUsed;
  c.valueCount[k] = 0;
  const outerLen = r.len;
  r.len = end;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | 2) && metric === undefined) {
      metric = readMetric(r);
    } else if (tag === ((2 << 3) | 0) && start === undefined) {
      start = r.int64() as unknown as number;
    } else if (tag === ((3 << 3) | 2) && !deltas) {
      if (!readDeltas(r, r.uint32(), c, k)) return false;
      deltas = true;
    } else if (tag === ((4 << 3) | 2) && !values) {
      if (!readValues(r, r.uint32(), c, k)) return false;
      values = true;
    } else {
      return false;
    }
  }
  if (r.pos !== end) return false;
  r.len = outerLen;
  c.metric[k] = metric ?? '';
  c.start[k] = start ?? 0;
  return true;
}

/**
 * Metric names seen lately, by a hash of their UTF-8 bytes: a fleet repeats a few names in
 * every payload, and decoding one (the Reader's UTF-8 check and a new string) cost more
 * than comparing its bytes with the name last seen in its slot.
 */
const NAME_SLOTS = 256;
const MAX_CACHED_NAME = 64;
const nameBytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(NAME_SLOTS);
const nameText: string[] = new Array<string>(NAME_SLOTS).fill('');

/** A length-delimited metric name at the Reader's position, from the cache when its bytes were seen lately. */
export function readMetric(r: protobuf.Reader): string {
  const at = r.pos;
  const length = r.uint32();
  const from = r.pos;
  const end = from + length;
  if (length > MAX_CACHED_NAME || end > r.len) {
    r.pos = at;
    return r.stringVerify();
  }
  const buf = r.buf;
  let h = 0x811c9dc5;
  for (let p = from; p < end; p++) h = Math.imul(h ^ buf[p]!, 0x01000193);
  const slot = (h ^ (h >>> 16)) & (NAME_SLOTS - 1);
  const known = nameBytes[slot];
  if (known !== undefined && known.length === length) {
    let same = true;
    for (let i = 0; i < length; i++) {
      if (known[i] !== buf[from + i]) {
        same = false;
        break;
      }
    }
    if (same) {
      r.pos = end;
      return nameText[slot]!;
    }
  }
  r.pos = at;
  const text = r.stringVerify(); // throws on invalid UTF-8, before anything is cached
  nameBytes[slot] = buf.slice(from, end);
  nameText[slot] = text;
  return text;
}

/** Packed sint64 deltas into the scratch, counted first (each varint has exactly one byte below 128). */
function readDeltas(r: protobuf.Reader, length: number, c: SeriesColumns, k: number): boolean {
  const end = r.pos + length;
  if (end > r.len) return false;
  const buf = r.buf;
  let n = 0;
  for (let p = r.pos; p < end; p++) if (buf[p]! < 128) n++;
  if (n === 0 || buf[end - 1]! >= 128) return n === 0 && length === 0;
  c.reserveDeltas(n);
  const at = c.deltasUsed;
  const outerLen = r.len;
  r.len = end;
  const d = c.deltas;
  let p = r.pos;
  // Varints of up to three bytes (|delta| < 2^20) decoded here, zigzag in int32 arithmetic;
  // longer ones by the Reader, which also refuses what is not a varint.
  for (let i = 0; i < n; i++) {
    const b0 = buf[p]!;
    let raw: number;
    if (b0 < 128) {
      raw = b0;
      p += 1;
    } else if (buf[p + 1]! < 128) {
      raw = (b0 & 127) | (buf[p + 1]! << 7);
      p += 2;
    } else if (buf[p + 2]! < 128) {
      raw = (b0 & 127) | ((buf[p + 1]! & 127) << 7) | (buf[p + 2]! << 14);
      p += 3;
    } else {
      r.pos = p;
      d[at + i] = r.sint64() as unknown as number;
      p = r.pos;
      continue;
    }
    d[at + i] = (raw >>> 1) ^ -(raw & 1);
  }
  r.pos = p;
  r.len = outerLen;
  if (r.pos !== end) return false;
  c.deltasUsed = at + n;
  c.deltaAt[k] = at;
  c.deltaCount[k] = n;
  return true;
}

/**
 * Packed doubles into the scratch through a DataView over the payload's whole buffer (any
 * alignment; one view per buffer, and a decode job's payloads share one): a `subarray` to
 * memcpy from cost an object per Series.
 */
function readValues(r: protobuf.Reader, length: number, c: SeriesColumns, k: number): boolean {
  const end = r.pos + length;
  if (end > r.len || length % 8 !== 0) return false;
  const n = length / 8;
  c.reserveValues(n);
  const at = c.valuesUsed;
  const v = c.values;
  const buf = r.buf;
  if (buf.buffer !== viewed) {
    viewed = buf.buffer;
    view = new DataView(viewed);
  }
  const dv = view;
  for (let i = 0, o = buf.byteOffset + r.pos; i < n; i++, o += 8) v[at + i] = dv.getFloat64(o, true);
  r.pos = end;
  c.valuesUsed = at + n;
  c.valueAt[k] = at;
  c.valueCount[k] = n;
  return true;
}

let viewed: ArrayBufferLike = new ArrayBuffer(0);
let view: DataView<ArrayBufferLike> = new DataView(viewed);
