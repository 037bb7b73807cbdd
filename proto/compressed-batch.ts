import { compressSync, uncompressSync } from 'snappy';
import { decodeColumnarBatch, type ColumnarBatch } from './columnar-batch.js';

/** Snappy-compresses an encoded columnar batch: the form a batch has as a log record. */
export function compressBatch(encoded: Uint8Array): Uint8Array {
  return compressSync(Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength));
}

/** Uncompresses a log record into the encoded batch bytes (e.g. to patch a flag in place). */
export function uncompressBatch(record: Uint8Array): Uint8Array {
  return uncompressSync(Buffer.from(record.buffer, record.byteOffset, record.byteLength)) as Buffer;
}

/** Decodes a log record (a snappy-compressed columnar batch). */
export function decodeLogRecord(record: Uint8Array): ColumnarBatch {
  return decodeColumnarBatch(uncompressBatch(record));
}
