import { decodeColumnarBatch, encodeColumnarBatch, type ColumnarBatch, type ExpansionScratch } from './columnar-batch.js';
import { maxCompressedLength, snappyCompress, snappyCompressInto } from './snappy-compress.js';
import { readUncompressedLength, uncompressInto } from './snappy-uncompress.js';

// Log records are compressed on the calling thread by proto/snappy-compress.ts, checkpoints
// by native snappy (proto/snappy-block.ts). snappy's sync API leaks on glibc Linux
// (upstream Brooooooklyn/snappy#323). Its async API does not leak, but each compressed
// block it returns keeps the Rust Vec's whole capacity (max_compress_len of the input,
// ~1.17× it, for a block that may be a tenth of that) in malloc until the wrapper is
// collected, and malloc keeps it after: 2 000 async compressions of 256 KB raised RSS by
// 132 MB that a full GC did not return. Records of 16 KB and more compressed natively in
// the decode worker raised the hostile soak's peak RSS to 607–688 MB over a quiet 283–292
// (copying each result out at once: 607; with MALLOC_ARENA_MAX=2: 657), against ~+120 MB
// in JS, past that test's +400 MB bound. Checkpoint chunks alone native: +137 MB.

/** A corrupt record must not make us allocate its claimed length: batches are far smaller. */
const MAX_BATCH_BYTES = 256 * 1024 * 1024;

/** The largest buffer a LogRecordDecoder keeps (a gateway batch's records are far smaller). */
const KEEP_MAX_BYTES = 16 * 1024 * 1024;

/** Snappy-compresses an encoded columnar batch: the form a batch has as a log record. */
export function compressBatch(encoded: Uint8Array): Uint8Array {
  return snappyCompress(encoded);
}

/** Uncompresses a log record into the encoded batch bytes (e.g. to patch a flag in place). */
export function uncompressBatch(record: Uint8Array): Uint8Array {
  const header = recordHeader(record);
  const out = new Uint8Array(header.length);
  uncompressRecord(record, header.at, out);
  return out;
}

/** The uncompressed length a record declares and where its elements start, refused when malformed or larger than any batch. */
function recordHeader(record: Uint8Array): { length: number; at: number } {
  const header = readUncompressedLength(record);
  if (header === undefined) throw new Error('Invalid Snappy bitstream: no valid length header');
  if (header.length > MAX_BATCH_BYTES) throw new Error(`The uncompressed length of ${header.length} is too big, expect at most ${MAX_BATCH_BYTES}`);
  return header;
}

function uncompressRecord(record: Uint8Array, at: number, out: Uint8Array): void {
  if (!uncompressInto(record, at, out)) throw new Error(`Invalid Snappy bitstream: does not uncompress to the ${out.length} bytes it declares`);
}

/** Decodes a log record (a snappy-compressed columnar batch). */
export function decodeLogRecord(record: Uint8Array): ColumnarBatch {
  return decodeColumnarBatch(uncompressBatch(record));
}

/**
 * Decodes log records into one buffer it reuses, so reading a partition's records allocates
 * (and zero-fills, and later collects) no uncompressed copy per record: under the fleet load
 * that was a processor's largest allocation. A batch it returns is valid only until its next
 * decode(): use its columns at once and copy what must be kept (the processors copy every
 * value they keep into their own state).
 */
export class LogRecordDecoder {
  private scratch = new Uint8Array(64 * 1024);
  /** A version 3 batch's metric and tags, and time, expanded from its runs. */
  private columns = new Uint32Array(4 * 1024);
  private times = new Float64Array(2 * 1024);
  private readonly expanded: ExpansionScratch = {
    u32: (length) => {
      if (length > KEEP_MAX_BYTES / 4) return new Uint32Array(length);
      if (length > this.columns.length) this.columns = new Uint32Array(Math.max(length, this.columns.length * 2));
      return this.columns;
    },
    f64: (length) => {
      if (length > KEEP_MAX_BYTES / 8) return new Float64Array(length);
      if (length > this.times.length) this.times = new Float64Array(Math.max(length, this.times.length * 2));
      return this.times;
    },
  };

  /** Decodes a log record (a snappy-compressed columnar batch) over the reused buffer. */
  decode(record: Uint8Array): ColumnarBatch {
    const header = recordHeader(record);
    const length = header.length;
    if (length > KEEP_MAX_BYTES) return decodeColumnarBatch(uncompressBatch(record), this.expanded);
    if (length > this.scratch.length) this.scratch = new Uint8Array(Math.min(KEEP_MAX_BYTES, Math.max(length, this.scratch.length * 2)));
    const out = this.scratch.subarray(0, length);
    uncompressRecord(record, header.at, out);
    return decodeColumnarBatch(out, this.expanded);
  }
}

/**
 * Encodes and compresses batches into log records through two buffers it reuses: the
 * encoded batch (zeroed where it is written, so the bytes are those of a fresh buffer) and
 * the records compressed since the last take, end to end. A decode job's records (one per
 * partition) then come out as views of ONE new buffer of their total size: a new
 * ArrayBuffer costs 0.7–2 µs here whatever its size, and one per record was ~7 % of a
 * single-reading job (50 partitions of a few messages each). compressBatch(encode())
 * allocated and zero-filled the encoded batch and ~1.17× it more for every record.
 */
export class BatchCompressor {
  private encoded = Buffer.alloc(0);
  private output = new Uint8Array(0);
  private used = 0;
  /** Where each record added since the last take ends in `output`. */
  private ends: number[] = [];

  /** Encodes and compresses `batch` as the next record: the bytes compressBatch(encodeColumnarBatch(batch)) makes. Its builder may be reset at once. */
  add(batch: ColumnarBatch): void {
    const encoded = encodeColumnarBatch(batch, (bytes) => {
      if (bytes > KEEP_MAX_BYTES) return Buffer.alloc(bytes);
      if (bytes > this.encoded.length) this.encoded = Buffer.allocUnsafe(Math.min(KEEP_MAX_BYTES, Math.max(bytes, this.encoded.length * 2)));
      return this.encoded.subarray(0, bytes).fill(0);
    });
    const needed = this.used + maxCompressedLength(encoded.length);
    if (needed > this.output.length) {
      const grown = new Uint8Array(Math.max(needed, this.output.length * 2));
      grown.set(this.output.subarray(0, this.used));
      this.output = grown;
    }
    this.used += snappyCompressInto(encoded, this.output.subarray(this.used));
    this.ends.push(this.used);
  }

  /** Forgets the records added since the last take (a job that threw part-way must not lend its records to the next). */
  clear(): void {
    this.used = 0;
    this.ends = [];
  }

  /** The records added since the last take, in order, as views of one new buffer (theirs alone: it may be transferred). */
  take(): Uint8Array[] {
    const all = this.output.slice(0, this.used);
    const records = new Array<Uint8Array>(this.ends.length);
    for (let k = 0, from = 0; k < this.ends.length; k++) {
      records[k] = all.subarray(from, this.ends[k]);
      from = this.ends[k]!;
    }
    this.used = 0;
    this.ends = [];
    if (this.output.length > KEEP_MAX_BYTES) this.output = new Uint8Array(0);
    return records;
  }
}
