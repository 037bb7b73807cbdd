import { crc32c } from '@node-rs/crc32';
import { describe, expect, it } from 'vitest';
import { HEADER_BYTES, MAX_PAYLOAD_BYTES, checkPayload, encodeRecord, frameCrcMatches, readFrameHeader, readU64, writeU64 } from './record.js';

const payload = Buffer.from('snappy-compressed batch, opaque to the log');

describe('record framing', () => {
  it('encodes [u32 length][u32 crc32c][u16 partition][u16 0][u64 offset][payload], little-endian', () => {
    const frame = encodeRecord(513, 2 ** 40 + 7, payload);
    expect(frame.length).toBe(HEADER_BYTES + payload.length);
    expect(frame.readUInt32LE(0)).toBe(payload.length);
    expect(frame.readUInt16LE(8)).toBe(513);
    expect(frame.readUInt16LE(10)).toBe(0);
    expect(frame.readBigUInt64LE(12)).toBe(2n ** 40n + 7n);
    expect(frame.subarray(HEADER_BYTES).equals(payload)).toBe(true);
    // The CRC covers header bytes 8..20 then the payload: crc32c of exactly those bytes.
    expect(frame.readUInt32LE(4)).toBe(crc32c(frame.subarray(8)) >>> 0);
    // crc32c("123456789") is the standard check value 0xE3069283; chaining gives the same.
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.from('56789'), crc32c(Buffer.from('1234')))).toBe(0xe3069283);
  });

  it('reads back a whole frame and checks its CRC over header fields and payload', () => {
    const frame = encodeRecord(3, 41, payload);
    const header = readFrameHeader(frame, frame.length);
    if (header.kind !== 'record') throw new Error(`expected a record, got ${header.kind}`);
    expect([header.length, header.partition, header.offset, header.crc]).toEqual([payload.length, 3, 41, frame.readUInt32LE(4)]);
    expect(frameCrcMatches(frame, header.crc)).toBe(true);
    const flipped = Buffer.from(frame);
    flipped[HEADER_BYTES + 3]! ^= 0x01;
    expect(frameCrcMatches(flipped, header.crc)).toBe(false);
    // A rotten offset field fails the CRC too, even with the payload intact.
    const moved = Buffer.from(frame);
    moved[12]! ^= 0x01;
    const movedHeader = readFrameHeader(moved, moved.length);
    if (movedHeader.kind !== 'record') throw new Error('expected a record');
    expect(movedHeader.offset).toBe(40);
    expect(frameCrcMatches(moved, movedHeader.crc)).toBe(false);
  });

  it('reports a torn header or a payload running past the end as incomplete', () => {
    const frame = encodeRecord(0, 0, payload);
    expect(readFrameHeader(frame.subarray(0, 5), 5)).toEqual({ kind: 'incomplete' });
    expect(readFrameHeader(frame, frame.length - 1)).toEqual({ kind: 'incomplete' });
  });

  it('treats a zero or oversized length as lost framing', () => {
    expect(readFrameHeader(Buffer.alloc(HEADER_BYTES), 1000)).toEqual({ kind: 'invalid', length: 0 });
    const huge = Buffer.alloc(HEADER_BYTES);
    huge.writeUInt32LE(0xffffffff, 0);
    expect(readFrameHeader(huge, 2 ** 40)).toEqual({ kind: 'invalid', length: 0xffffffff });
  });

  it('refuses empty and oversized payloads', () => {
    expect(checkPayload(payload)).toBeUndefined();
    expect(checkPayload(new Uint8Array(0))).toMatch(/empty/);
    expect(checkPayload({ length: MAX_PAYLOAD_BYTES + 1 } as Uint8Array)).toMatch(/limit/);
  });

  it('round-trips u64 values up to 2^53 - 1', () => {
    const buf = Buffer.alloc(8);
    for (const n of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 48 + 12345, Number.MAX_SAFE_INTEGER]) {
      writeU64(buf, 0, n);
      expect(buf.readBigUInt64LE(0)).toBe(BigInt(n));
      expect(readU64(buf, 0)).toBe(n);
    }
  });
});
