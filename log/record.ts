/**
 * Commit-log record framing, little-endian:
 * [u32 payload length][u32 crc32c][u16 partition][u16 reserved 0][u64 offset][payload].
 * The CRC covers header bytes 8..20 (partition, reserved, offset) and then the payload, so
 * a rotten partition or offset field is caught like a rotten payload. Records are opaque
 * bytes; the log neither compresses nor interprets them.
 */
import { crc32c } from '@node-rs/crc32';

export const HEADER_BYTES = 20;
/** Where the CRC-covered part of the header starts. */
const META_AT = 8;
const TWO_32 = 2 ** 32;

/**
 * Largest payload the log accepts. A torn or rotten length field is far more likely to
 * be huge than a real batch, so the cap also stops us allocating gigabytes on garbage.
 */
export const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024;

/** Whether `length` can be a real record's length (see `checkPayload` for why 0 is not). */
export function isValidLength(length: number): boolean {
  return length > 0 && length <= MAX_PAYLOAD_BYTES;
}

/**
 * Refusal reason for a payload, or undefined when it may be appended. Empty payloads are
 * refused so that a zero-filled tail (what a crash can leave after a file grew) can never
 * parse as records: a zero length field always means "framing lost here".
 */
export function checkPayload(payload: Uint8Array): string | undefined {
  if (payload.length === 0) return 'payload is empty; the log stores only non-empty records';
  if (payload.length > MAX_PAYLOAD_BYTES) {
    return `payload is ${payload.length} bytes; the limit is ${MAX_PAYLOAD_BYTES}`;
  }
  return undefined;
}

/** Writes `n` (an integer below 2^53) as a u64 LE at `at`. */
export function writeU64(target: Buffer, at: number, n: number): void {
  target.writeUInt32LE(n % TWO_32, at);
  target.writeUInt32LE(Math.floor(n / TWO_32), at + 4);
}

/** Reads a u64 LE at `at` as a number (exact below 2^53). */
export function readU64(source: Buffer, at: number): number {
  return source.readUInt32LE(at) + source.readUInt32LE(at + 4) * TWO_32;
}

/** The CRC a record stores: crc32c over its header bytes 8..20 (`meta`), then its payload. */
export function recordCrc(meta: Uint8Array, payload: Uint8Array): number {
  return crc32c(payload, crc32c(meta)) >>> 0;
}

/** Writes the header of record (`partition`, `offset`, `payload`) into `target` at `at`. */
export function writeHeader(target: Buffer, at: number, partition: number, offset: number, payload: Uint8Array): void {
  target.writeUInt32LE(payload.length, at);
  target.writeUInt16LE(partition, at + META_AT);
  target.writeUInt16LE(0, at + META_AT + 2);
  writeU64(target, at + META_AT + 4, offset);
  target.writeUInt32LE(recordCrc(target.subarray(at + META_AT, at + HEADER_BYTES), payload), at + 4);
}

/** One framed record as bytes (header + payload); for tests and tools, not the hot path. */
export function encodeRecord(partition: number, offset: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  writeHeader(out, 0, partition, offset, payload);
  out.set(payload, HEADER_BYTES);
  return out;
}

/** What the header at some position says, given how many bytes the file still holds there. */
export type FrameHeader =
  | { kind: 'record'; length: number; crc: number; partition: number; offset: number }
  /** Fewer bytes than the header or its payload needs: a torn write at the tail. */
  | { kind: 'incomplete' }
  /** The length field cannot be a record's: framing is lost from here on. */
  | { kind: 'invalid'; length: number };

/** Classifies the frame whose first bytes are `head`, with `remaining` bytes (header included) left. */
export function readFrameHeader(head: Uint8Array, remaining: number): FrameHeader {
  if (remaining < HEADER_BYTES || head.length < HEADER_BYTES) return { kind: 'incomplete' };
  const view = Buffer.isBuffer(head) ? head : Buffer.from(head.buffer, head.byteOffset, HEADER_BYTES);
  const length = view.readUInt32LE(0);
  if (!isValidLength(length)) return { kind: 'invalid', length };
  if (HEADER_BYTES + length > remaining) return { kind: 'incomplete' };
  return {
    kind: 'record',
    length,
    crc: view.readUInt32LE(4),
    partition: view.readUInt16LE(META_AT),
    offset: readU64(view, META_AT + 4),
  };
}

/**
 * Whether a whole frame (header and payload, contiguous as on disk) hashes to `storedCrc`.
 * Header bytes 8..20 and the payload are adjacent there, so this is one crc32c call.
 */
export function frameCrcMatches(frame: Uint8Array, storedCrc: number): boolean {
  return (crc32c(frame.subarray(META_AT)) >>> 0) === storedCrc;
}
