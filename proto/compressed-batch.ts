import snappy from 'snappyjs';
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
