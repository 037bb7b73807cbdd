import { crc32c } from '@node-rs/crc32';
import snappy from 'snappyjs';
import { SluiceError } from '../../core/index.js';

/** What a partition task needs to resume: where to read from, its watermark, its state. */
export interface PartitionCheckpoint {
  partition: number;
  /** Monotonic per partition; names the file. */
  id: number;
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

const MAGIC = 0x4b434c53; // "SLCK"
const VERSION = 1;
const HEADER = 48;

/**
 * Layout: [magic u32][version u16][reserved u16][partition u32][crc32c of body u32]
 * [id f64][offset f64][watermark f64][createdAtMs f64][body = snappy(state)]. The CRC and
 * the header together catch a flipped byte and a truncated file.
 */
export function encodeCheckpoint(c: PartitionCheckpoint): Buffer {
  const body = Buffer.from(snappy.compress(c.state));
  const out = Buffer.alloc(HEADER + body.length);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt16LE(VERSION, 4);
  out.writeUInt32LE(c.partition, 8);
  out.writeDoubleLE(c.id, 16);
  out.writeDoubleLE(c.offset, 24);
  out.writeDoubleLE(c.watermark, 32);
  out.writeDoubleLE(c.createdAtMs, 40);
  body.copy(out, HEADER);
  out.writeUInt32LE(crc32c(out.subarray(16)), 12);
  return out;
}

/** Parses and verifies a checkpoint file's bytes; `source` names the file in errors. */
export function decodeCheckpoint(bytes: Buffer, source: string): PartitionCheckpoint {
  if (bytes.length < HEADER) throw new CheckpointCorruptError(`${source}: truncated (${bytes.length} bytes, header needs ${HEADER})`);
  if (bytes.readUInt32LE(0) !== MAGIC) throw new CheckpointCorruptError(`${source}: not a checkpoint (bad magic)`);
  const version = bytes.readUInt16LE(4);
  if (version !== VERSION) throw new CheckpointCorruptError(`${source}: version ${version} is not supported (expected ${VERSION})`);
  const crc = bytes.readUInt32LE(12);
  if (crc32c(bytes.subarray(16)) !== crc) throw new CheckpointCorruptError(`${source}: checksum mismatch (truncated or damaged)`);
  let state: Uint8Array;
  try {
    state = snappy.uncompress(new Uint8Array(bytes.buffer, bytes.byteOffset + HEADER, bytes.length - HEADER));
  } catch (err) {
    throw new CheckpointCorruptError(`${source}: state does not uncompress: ${(err as Error).message}`);
  }
  return {
    partition: bytes.readUInt32LE(8),
    id: bytes.readDoubleLE(16),
    offset: bytes.readDoubleLE(24),
    watermark: bytes.readDoubleLE(32),
    createdAtMs: bytes.readDoubleLE(40),
    state,
  };
}
