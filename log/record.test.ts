import { describe, expect, it } from 'vitest';
import { HEADER_BYTES, MAX_PAYLOAD_BYTES, checkPayload, crcMatches, encodeRecord, readFrameHeader } from './record.js';

const payload = Buffer.from('snappy-compressed batch, opaque to the log');

describe('record framing', () => {
  it('encodes [u32 LE length][u32 LE crc32c][payload]', () => {
    const frame = encodeRecord(payload);
    expect(frame.length).toBe(HEADER_BYTES + payload.length);
    expect(frame.readUInt32LE(0)).toBe(payload.length);
    // crc32c("123456789") is the standard check value 0xE3069283.
    expect(encodeRecord(Buffer.from('123456789')).readUInt32LE(4)).toBe(0xe3069283);
    expect(frame.subarray(HEADER_BYTES).equals(payload)).toBe(true);
  });

  it('reads back a whole frame and checks its CRC', () => {
    const frame = encodeRecord(payload);
    const header = readFrameHeader(frame, frame.length);
    expect(header).toEqual({ kind: 'record', length: payload.length, crc: frame.readUInt32LE(4) });
    if (header.kind !== 'record') throw new Error('unreachable');
    expect(crcMatches(header.crc, frame.subarray(HEADER_BYTES))).toBe(true);
    const flipped = Buffer.from(frame);
    flipped[HEADER_BYTES + 3]! ^= 0x01;
    expect(crcMatches(header.crc, flipped.subarray(HEADER_BYTES))).toBe(false);
  });

  it('reports a torn header or a payload running past the end as incomplete', () => {
    const frame = encodeRecord(payload);
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
});
