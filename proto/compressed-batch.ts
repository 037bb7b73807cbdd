import snappy from 'snappyjs';
import { SnappyDecompressor } from 'snappyjs/snappy_decompressor.js';
import { decodeColumnarBatch, type ColumnarBatch } from './columnar-batch.js';

// Log records use snappyjs (pure JS), checkpoints native snappy (proto/snappy-block.ts).
// snappy's sync API leaks on glibc Linux (upstream Brooooooklyn/snappy#323). Its async API
// does not leak, but each compressed block it returns keeps the Rust Vec's whole capacity
// (max_compress_len of the input, ~1.17× it, for a block that may be a tenth of that) in
// malloc until the wrapper is collected, and malloc keeps it after: 2 000 async
// compressions of 256 KB raised RSS by 132 MB that a full GC did not return. Records of
// 16 KB and more compressed natively in the decode worker raised the hostile soak's peak
// RSS to 607–688 MB over a quiet 283–292 (copying each result out at once: 607; with
// MALLOC_ARENA_MAX=2: 657), against ~+120 MB with snappyjs, past that test's +400 MB
// bound. Checkpoint chunks alone native: +137 MB. So records stay on snappyjs (about a
// third of the decode worker's CPU under the fleet load) until that is solved upstream.

/** A corrupt record must not make us allocate its claimed length: batches are far smaller. */
const MAX_BATCH_BYTES = 256 * 1024 * 1024;

/** The largest buffer a LogRecordDecoder keeps (a gateway batch's records are far smaller). */
const KEEP_MAX_BYTES = 16 * 1024 * 1024;

/** Snappy-compresses an encoded columnar batch: the form a batch has as a log record. */
export function compressBatch(encoded: Uint8Array): Uint8Array {
  return snappy.compress(encoded);
}

/** Uncompresses a log record into the encoded batch bytes (e.g. to patch a flag in place). */
export function uncompressBatch(record: Uint8Array): Uint8Array {
  return snappy.uncompress(record, MAX_BATCH_BYTES);
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

  /** Decodes a log record (a snappy-compressed columnar batch) over the reused buffer. */
  decode(record: Uint8Array): ColumnarBatch {
    const d = new SnappyDecompressor(record);
    const length = d.readUncompressedLength();
    if (length === -1) throw new Error('Invalid Snappy bitstream');
    if (length > MAX_BATCH_BYTES) throw new Error(`The uncompressed length of ${length} is too big, expect at most ${MAX_BATCH_BYTES}`);
    // A rare huge record gets a buffer of its own, so the one kept stays small.
    if (length > KEEP_MAX_BYTES) return decodeColumnarBatch(uncompressBatch(record));
    if (length > this.scratch.length) this.scratch = new Uint8Array(Math.min(KEEP_MAX_BYTES, Math.max(length, this.scratch.length * 2)));
    // Exactly the length: the decompressor does not bound its writes, and a typed array drops those past its end.
    const out = this.scratch.subarray(0, length);
    if (!d.uncompressToBuffer(out)) throw new Error('Invalid Snappy bitstream');
    return decodeColumnarBatch(out);
  }
}
