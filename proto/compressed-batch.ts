import { decodeColumnarBatch, type ColumnarBatch } from './columnar-batch.js';
import { compressBlockInline, compressBlocks, uncompressBlockInline } from './snappy-block.js';

// A log record is one raw snappy block of an encoded ColumnarBatch. compressBatches (the
// decode worker) sends records of 16 KB and more to native snappy's async API and does
// smaller ones with snappyjs: most records of a micro-batch are a few hundred bytes to a
// few KB, where snappyjs is 2–10× faster than a promise and a threadpool hop
// (snappy-block.ts has the figures). The others are snappyjs only, for callers that
// cannot or need not await (partition-task.ts says why the processors do not).
// A processor's step awaiting native uncompression of its read measured no faster and
// +8 % process CPU, so reading stays on snappyjs.

/** A corrupt record must not make us allocate its claimed length: batches are far smaller. */
const MAX_BATCH_BYTES = 256 * 1024 * 1024;

/** Snappy-compresses encoded columnar batches into log records, one promise for all of them (the decode worker: one call per job). */
export function compressBatches(encoded: readonly Uint8Array[]): Promise<Uint8Array[]> {
  return compressBlocks(encoded);
}

/**
 * Snappy-compresses one encoded columnar batch on the calling thread (snappyjs). For
 * callers that must not await: the gateway re-compresses a batch it patched inside
 * persist(), which issues its appends in call order; that happens only when a device hits
 * the cardinality guard. Tests and benches use it to make records.
 */
export function compressBatch(encoded: Uint8Array): Uint8Array {
  return compressBlockInline(encoded);
}

/** Uncompresses a log record into the encoded batch bytes on the calling thread (the gateway patches a flag in place; see compressBatch). */
export function uncompressBatch(record: Uint8Array): Uint8Array {
  return uncompressBlockInline(record, MAX_BATCH_BYTES);
}

/** Decodes a log record (a snappy-compressed columnar batch) on the calling thread. */
export function decodeLogRecord(record: Uint8Array): ColumnarBatch {
  return decodeColumnarBatch(uncompressBatch(record));
}
