/**
 * Frame format: the payload of one stream message, holding records of one partition.
 * [u8 version = 1][u8 reserved 0][u16 LE record count] then each record in the log's
 * record framing (log/record.ts: length, CRC32C, partition, offset field, payload). The
 * record's offset field holds its index in the frame: the frame's stream sequence (and
 * so the record's offset, see offsets.ts) is known only after the publish. The CRC
 * covers partition, index and payload, so a record moved to another frame position or
 * partition fails its check like a rotten payload.
 */
import { LogCorruptError } from '../../core/errors.js';
import { frameCrcMatches, HEADER_BYTES, readFrameHeader, writeHeader } from '../record.js';
import { recordOffset } from './offsets.js';
import type { LogFrame, LogRecord } from '../log.js';

export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 4;

/** Bytes a record of `payloadBytes` adds to a frame. */
export function framedSize(payloadBytes: number): number {
  return HEADER_BYTES + payloadBytes;
}

/** One frame's bytes for `payloads` of `partition`. */
export function encodeFrame(partition: number, payloads: readonly Uint8Array[]): Buffer {
  let size = FRAME_HEADER_BYTES;
  for (const p of payloads) size += framedSize(p.length);
  const out = Buffer.allocUnsafe(size);
  out.writeUInt8(FRAME_VERSION, 0);
  out.writeUInt8(0, 1);
  out.writeUInt16LE(payloads.length, 2);
  let at = FRAME_HEADER_BYTES;
  payloads.forEach((payload, index) => {
    writeHeader(out, at, partition, index, payload);
    out.set(payload, at + HEADER_BYTES);
    at += framedSize(payload.length);
  });
  return out;
}

/** How many records the frame holds (from its header alone). */
export function frameRecordCount(frame: Uint8Array, where = 'frame'): number {
  checkVersion(frame, where);
  return frame[2]! | (frame[3]! << 8);
}

/**
 * The records of the frame stored at stream sequence `seq` whose offset is ≥ `fromOffset`,
 * at most `max`; every record is CRC-checked. `where` names the frame in errors; `source`, when given, goes on each record.
 */
export function decodeFrame(frame: Uint8Array, seq: number, partition: number, fromOffset: number, max: number, where: string, source?: LogFrame): LogRecord[] {
  const count = frameRecordCount(frame, where);
  const buf = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  const out: LogRecord[] = [];
  let at = FRAME_HEADER_BYTES;
  for (let index = 0; index < count; index++) {
    const head = readFrameHeader(buf.subarray(at, at + HEADER_BYTES), buf.length - at);
    if (head.kind !== 'record') throw new LogCorruptError(`${where}: record ${index} of ${count} is cut short or has a bad length (${head.kind})`);
    const end = at + HEADER_BYTES + head.length;
    if (head.partition !== partition || head.offset !== index) {
      throw new LogCorruptError(`${where}: record ${index} says partition ${head.partition}, index ${head.offset}`);
    }
    const offset = recordOffset(seq, index);
    if (offset >= fromOffset && out.length < max) {
      // Only records returned are checked: a reader skipping ahead pays for what it reads.
      if (!frameCrcMatches(buf.subarray(at, end), head.crc)) throw new LogCorruptError(`${where}: record ${index} fails its CRC`);
      out.push(source === undefined ? { offset, payload: buf.subarray(at + HEADER_BYTES, end) } : { offset, payload: buf.subarray(at + HEADER_BYTES, end), frame: source });
    }
    at = end;
  }
  if (at !== buf.length) throw new LogCorruptError(`${where}: ${buf.length - at} bytes after the last of ${count} records`);
  return out;
}

function checkVersion(frame: Uint8Array, where: string): void {
  if (frame.length < FRAME_HEADER_BYTES || frame[0] !== FRAME_VERSION) {
    throw new LogCorruptError(`${where}: not a sluice log frame (version byte ${frame[0]}, ${frame.length} bytes); expected version ${FRAME_VERSION}`);
  }
}
