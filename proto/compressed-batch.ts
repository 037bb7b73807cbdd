import snappy from 'snappyjs';
import { decodeColumnarBatch, type ColumnarBatch } from './columnar-batch.js';

// snappyjs (pure JS) rather than the native `snappy` addon: snappy 7.2 and 7.4's sync
// calls never free their buffers on glibc Linux (RSS grew by ~14 KB per 12 KB compressed
// here, 3 GB in a minute of bench:ingest; upstream Brooooooklyn/snappy#323). snappyjs
// measured 269 MB/s compress and 745 MB/s uncompress here, with flat RSS.

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
