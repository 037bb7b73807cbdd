/**
 * Record framing on disk: [u32 LE payload length][u32 LE crc32c(payload)][payload].
 * Records are opaque bytes; the log neither compresses nor interprets them.
 */
import { crc32c } from '@node-rs/crc32';

export const HEADER_BYTES = 8;

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
 * refused because a zero-filled tail (what a crash can leave after a file grew) would
 * otherwise parse as valid empty records: length 0 and crc32c of nothing is 0.
 */
export function checkPayload(payload: Uint8Array): string | undefined {
  if (payload.length === 0) return 'payload is empty; the log stores only non-empty records';
  if (payload.length > MAX_PAYLOAD_BYTES) {
    return `payload is ${payload.length} bytes; the limit is ${MAX_PAYLOAD_BYTES}`;
  }
  return undefined;
}

/** Writes the header of `payload` into `target` at `at`. */
export function writeHeader(target: Buffer, at: number, payload: Uint8Array): void {
  target.writeUInt32LE(payload.length, at);
  target.writeUInt32LE(crc32c(payload) >>> 0, at + 4);
}

/** One framed record as bytes (header + payload); for tests and tools, not the hot path. */
export function encodeRecord(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  writeHeader(out, 0, payload);
  out.set(payload, HEADER_BYTES);
  return out;
}

/** What the header at some position says, given how many bytes the file still holds there. */
export type FrameHeader =
  | { kind: 'record'; length: number; crc: number }
  /** Fewer bytes than the header or its payload needs: a torn write at the tail. */
  | { kind: 'incomplete' }
  /** The length field cannot be a record's: framing is lost from here on. */
  | { kind: 'invalid'; length: number };

/** Classifies the frame whose first bytes are `head`, with `remaining` bytes (header included) left. */
export function readFrameHeader(head: Uint8Array, remaining: number): FrameHeader {
  if (remaining < HEADER_BYTES || head.length < HEADER_BYTES) return { kind: 'incomplete' };
  const view = Buffer.from(head.buffer, head.byteOffset, HEADER_BYTES);
  const length = view.readUInt32LE(0);
  if (!isValidLength(length)) return { kind: 'invalid', length };
  if (HEADER_BYTES + length > remaining) return { kind: 'incomplete' };
  return { kind: 'record', length, crc: view.readUInt32LE(4) };
}

/** Whether `payload` hashes to the CRC its header stored. */
export function crcMatches(storedCrc: number, payload: Uint8Array): boolean {
  return (crc32c(payload) >>> 0) === storedCrc;
}
