import protobuf from 'protobufjs/minimal.js';
import './protobuf-numbers.js';

/**
 * A ReadingBatch that holds only Series (what high-rate devices send), read without the
 * generated decoder's per-Series JS arrays: every Series' deltas and values go into two
 * Float64Arrays reused from payload to payload (values by one memcpy of the packed
 * doubles), and its fields are views over them. Under the fleet load the generated
 * decoder's arrays (`Series.decode`, packed sint64 and double reads, their `length` set)
 * were a fifth of the decode worker, the busiest thread.
 *
 * Only the plain shape is taken: field 1 (seq) at most once, then Series (field 3), each
 * with metric, start, packed deltas and packed values at most once apiece. Anything else
 * (readings, unknown fields, repeats, unpacked forms, bad lengths, truncation) returns
 * undefined, and the generated decoder reads the payload as before, so refusals and their
 * messages are unchanged. Numbers are read by the same Reader methods, so they are equal.
 */
export interface SeriesView {
  metric: string;
  startUnixMs: number;
  timeDeltaMs: Float64Array;
  values: Float64Array;
}

export interface SeriesOnlyBatch {
  seq: number;
  series: SeriesView[];
}

const Reader = protobuf.Reader;

let deltas = new Float64Array(1024);
let values = new Float64Array(1024);
/** The packed doubles' bytes land here first: a payload's offsets need not be 8-byte aligned. */
let valueBytes = new Uint8Array(values.buffer);
let used = 0;

/** Makes room for `n` more entries in the scratch arrays, keeping the `used` ones (views handed out before stay over the old arrays). */
function reserve(n: number): void {
  if (used + n <= deltas.length) return;
  const size = Math.max(deltas.length * 2, used + n);
  const d = new Float64Array(size);
  d.set(deltas.subarray(0, used));
  const v = new Float64Array(size);
  v.set(values.subarray(0, used));
  deltas = d;
  values = v;
  valueBytes = new Uint8Array(values.buffer);
}

/**
 * Reads `bytes` as a Series-only ReadingBatch, or undefined when it is anything else.
 * The views it returns are valid until the next call.
 */
export function readSeriesOnlyBatch(bytes: Uint8Array): SeriesOnlyBatch | undefined {
  if (!startsWithSeries(bytes)) return undefined;
  used = 0;
  try {
    return readBatch(Reader.create(bytes));
  } catch {
    return undefined;
  }
}

/** Whether the first field after an optional seq is a Series: a batch of readings costs two byte reads, not a Reader. */
function startsWithSeries(bytes: Uint8Array): boolean {
  let p = 0;
  if (bytes[0] === ((1 << 3) | 0)) {
    p = 1;
    while (p < bytes.length && bytes[p]! >= 128) p++;
    p++;
  }
  return bytes[p] === ((3 << 3) | 2);
}

function readBatch(r: protobuf.Reader): SeriesOnlyBatch | undefined {
  let seq = 0;
  let seenSeq = false;
  const series: SeriesView[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | 0) && !seenSeq && series.length === 0) {
      seq = r.uint64() as unknown as number;
      seenSeq = true;
    } else if (tag === ((3 << 3) | 2)) {
      const s = readSeries(r, r.uint32());
      if (s === undefined) return undefined;
      series.push(s);
    } else {
      return undefined;
    }
  }
  return { seq, series };
}

function readSeries(r: protobuf.Reader, length: number): SeriesView | undefined {
  const end = r.pos + length;
  if (end > r.len) return undefined;
  let metric: string | undefined;
  let start: number | undefined;
  let d: Float64Array | undefined;
  let v: Float64Array | undefined;
  const outerLen = r.len;
  r.len = end;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | 2) && metric === undefined) {
      metric = r.stringVerify();
    } else if (tag === ((2 << 3) | 0) && start === undefined) {
      start = r.int64() as unknown as number;
    } else if (tag === ((3 << 3) | 2) && d === undefined) {
      d = readDeltas(r, r.uint32());
      if (d === undefined) return undefined;
    } else if (tag === ((4 << 3) | 2) && v === undefined) {
      v = readValues(r, r.uint32());
      if (v === undefined) return undefined;
    } else {
      return undefined;
    }
  }
  if (r.pos !== end) return undefined;
  r.len = outerLen;
  return { metric: metric ?? '', startUnixMs: start ?? 0, timeDeltaMs: d ?? EMPTY, values: v ?? EMPTY };
}

const EMPTY = new Float64Array(0);

/** Packed sint64 deltas into the scratch, counted first (each varint has exactly one byte below 128). */
function readDeltas(r: protobuf.Reader, length: number): Float64Array | undefined {
  const end = r.pos + length;
  if (end > r.len) return undefined;
  const buf = r.buf;
  let n = 0;
  for (let p = r.pos; p < end; p++) if (buf[p]! < 128) n++;
  if (n === 0 || buf[end - 1]! >= 128) return n === 0 && length === 0 ? EMPTY : undefined;
  reserve(n);
  const at = used;
  const outerLen = r.len;
  r.len = end;
  const d = deltas;
  let p = r.pos;
  // Varints of up to three bytes (|delta| < 2^20) decoded here, zigzag in int32 arithmetic;
  // longer ones by the Reader, which also refuses what is not a varint.
  for (let k = 0; k < n; k++) {
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
      d[at + k] = r.sint64() as unknown as number;
      p = r.pos;
      continue;
    }
    d[at + k] = (raw >>> 1) ^ -(raw & 1);
  }
  r.pos = p;
  r.len = outerLen;
  if (r.pos !== end) return undefined;
  used = at + n;
  return deltas.subarray(at, at + n);
}

/** Packed doubles into the scratch by one copy (little-endian hosts, as the columnar batch assumes). */
function readValues(r: protobuf.Reader, length: number): Float64Array | undefined {
  const end = r.pos + length;
  if (end > r.len || length % 8 !== 0) return undefined;
  const n = length / 8;
  reserve(n);
  const at = used;
  valueBytes.set(r.buf.subarray(r.pos, end), at * 8);
  r.pos = end;
  used = at + n;
  return values.subarray(at, at + n);
}
