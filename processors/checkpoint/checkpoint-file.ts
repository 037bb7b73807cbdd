import { constants } from 'node:buffer';
import { crc32c } from '@node-rs/crc32';
import { SluiceError } from '../../core/index.js';
import { compressBlock, uncompressBlock } from '../../proto/index.js';

/** What a partition task needs to resume: where to read from, its watermark, its state. */
export interface PartitionCheckpoint {
  partition: number;
  /** Monotonic per partition; names the file. */
  id: number;
  /** 'full': the whole state. 'delta': what changed since checkpoint `base` (restore = a full one and its deltas, in order). */
  kind: 'full' | 'delta';
  /** The checkpoint a delta applies to: the partition's previous one. 0 for a full checkpoint. */
  base: number;
  /** The next log offset to read: everything below it is reflected in `state` and in InfluxDB. */
  offset: number;
  watermark: number;
  /** Opaque task state (window operators, dedup), already serialised by its owners. */
  state: Uint8Array;
  createdAtMs: number;
}

/** A checkpoint file that fails its checks; the store falls back to an older one. */
export class CheckpointCorruptError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_CHECKPOINT_CORRUPT', message);
  }
}

/** A checkpoint file of a format this version does not read (there is no migration). */
export class CheckpointVersionError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_CHECKPOINT_VERSION', message);
  }
}

const MAGIC = 0x4b434c53; // "SLCK"
/** 1: one snappy block, full state only. 2: full or delta, with base; chunked snappy. */
export const CHECKPOINT_FORMAT = 2;
export const CHECKPOINT_HEADER_BYTES = 64;
const KINDS = ['full', 'delta'] as const;
/**
 * State bytes per snappy chunk. A chunk goes to native snappy's async API (off the JS
 * thread; bench:snappy: 1 MiB of window state in 0.28 s of the calling thread per GB
 * against 1.79 for our JS compressor and 3.25 for snappyjs), so
 * the thread runs the gateway and the processors meanwhile. Chunks go one at a time, not
 * all at once: the libuv threadpool they use also runs the log's writes and fsyncs, which
 * must not queue behind a 100 MB state.
 */
const CHUNK = 1 << 20;

/**
 * Layout (format 2), little-endian:
 * [magic u32][format u16][kind u8: 0 full, 1 delta][reserved u8][partition u32][crc32c u32]
 * [id f64][base f64][offset f64][watermark f64][createdAtMs f64][state length f64]
 * then the state as chunks of [u32 length][snappy block of ≤ 1 MiB of state].
 * The CRC covers every byte but its own, so it and the lengths catch a flipped byte and
 * a truncated file.
 */
export async function encodeCheckpoint(c: PartitionCheckpoint): Promise<Buffer> {
  if ((c.kind === 'full') !== (c.base === 0)) throw new RangeError(`a ${c.kind} checkpoint with base ${c.base}`);
  const chunks: Uint8Array[] = [];
  let bodyLength = 0;
  for (let at = 0; at < c.state.byteLength || at === 0; at += CHUNK) {
    const chunk = await compressBlock(c.state.subarray(at, Math.min(c.state.byteLength, at + CHUNK)));
    chunks.push(chunk);
    bodyLength += 4 + chunk.byteLength;
  }
  const out = Buffer.allocUnsafe(CHECKPOINT_HEADER_BYTES + bodyLength);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt16LE(CHECKPOINT_FORMAT, 4);
  out.writeUInt8(KINDS.indexOf(c.kind), 6);
  out.writeUInt8(0, 7);
  out.writeUInt32LE(c.partition, 8);
  out.writeDoubleLE(c.id, 16);
  out.writeDoubleLE(c.base, 24);
  out.writeDoubleLE(c.offset, 32);
  out.writeDoubleLE(c.watermark, 40);
  out.writeDoubleLE(c.createdAtMs, 48);
  out.writeDoubleLE(c.state.byteLength, 56);
  let at = CHECKPOINT_HEADER_BYTES;
  for (const chunk of chunks) {
    at = out.writeUInt32LE(chunk.byteLength, at);
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  out.writeUInt32LE(crc32c(out.subarray(16), crc32c(out.subarray(0, 12))), 12);
  return out;
}

/** The header fields of a checkpoint file (no CRC check: that needs the whole file). */
export interface CheckpointHeader {
  partition: number;
  id: number;
  kind: 'full' | 'delta';
  base: number;
  offset: number;
}

/** Reads and checks the header; `source` names the file in errors. */
export function decodeCheckpointHeader(bytes: Buffer, source: string): CheckpointHeader {
  if (bytes.length < 6) throw new CheckpointCorruptError(`${source}: truncated (${bytes.length} bytes)`);
  if (bytes.readUInt32LE(0) !== MAGIC) throw new CheckpointCorruptError(`${source}: not a checkpoint (bad magic)`);
  const format = bytes.readUInt16LE(4);
  if (format !== CHECKPOINT_FORMAT) {
    throw new CheckpointVersionError(
      `${source}: checkpoint format ${format}, but this version reads only format ${CHECKPOINT_FORMAT}. ` +
        'Delete the checkpoints directory to start the processors from the log (or run the version that wrote it).',
    );
  }
  if (bytes.length < CHECKPOINT_HEADER_BYTES) throw new CheckpointCorruptError(`${source}: truncated (${bytes.length} bytes, header needs ${CHECKPOINT_HEADER_BYTES})`);
  const kind = KINDS[bytes.readUInt8(6)];
  if (kind === undefined) throw new CheckpointCorruptError(`${source}: unknown kind ${bytes.readUInt8(6)}`);
  const header = { partition: bytes.readUInt32LE(8), id: bytes.readDoubleLE(16), kind, base: bytes.readDoubleLE(24), offset: bytes.readDoubleLE(32) };
  return header;
}

/** Parses and verifies a checkpoint file's bytes, uncompressing its chunks off the JS thread one at a time; `source` names the file in errors. */
export async function decodeCheckpoint(bytes: Buffer, source: string): Promise<PartitionCheckpoint> {
  const header = decodeCheckpointHeader(bytes, source);
  const crc = bytes.readUInt32LE(12);
  if (crc32c(bytes.subarray(16), crc32c(bytes.subarray(0, 12))) !== crc) throw new CheckpointCorruptError(`${source}: checksum mismatch (truncated or damaged)`);
  if ((header.kind === 'full') !== (header.base === 0) || !(header.base < header.id)) throw new CheckpointCorruptError(`${source}: a ${header.kind} checkpoint with base ${header.base}`);
  const length = bytes.readDoubleLE(56);
  if (!Number.isSafeInteger(length) || length < 0 || length > constants.MAX_LENGTH) throw new CheckpointCorruptError(`${source}: state length ${length}`);
  const state = new Uint8Array(length);
  let filled = 0;
  let at = CHECKPOINT_HEADER_BYTES;
  try {
    while (at < bytes.length) {
      if (at + 4 > bytes.length) throw new Error('chunk length runs past the end');
      const n = bytes.readUInt32LE(at);
      at += 4;
      if (at + n > bytes.length) throw new Error('chunk runs past the end');
      const chunk = await uncompressBlock(new Uint8Array(bytes.buffer, bytes.byteOffset + at, n), Math.min(CHUNK, length - filled));
      state.set(chunk, filled);
      filled += chunk.byteLength;
      at += n;
    }
    if (filled !== length) throw new Error(`${filled} bytes of state, the header says ${length}`);
  } catch (err) {
    throw new CheckpointCorruptError(`${source}: state does not uncompress: ${(err as Error).message}`);
  }
  return { ...header, watermark: bytes.readDoubleLE(40), createdAtMs: bytes.readDoubleLE(48), state };
}
