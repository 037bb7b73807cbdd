import { describe, expect, it } from 'vitest';
import { parseJetStreamLogConfig } from './config.js';
import { decodeFrame, encodeFrame, frameRecordCount } from './frame.js';
import { frameSeqOf, MAX_FRAME_SEQ, RECORDS_PER_FRAME, recordOffset } from './offsets.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('frame format', () => {
  const payloads = ['a', 'bb', 'ccc', 'dddd'].map(text);

  it('round-trips records with offsets seq × 1024 + index, from any offset, at most max', () => {
    const frame = encodeFrame(7, payloads);
    expect(frameRecordCount(frame)).toBe(4);
    const all = decodeFrame(frame, 5, 7, 0, 100, 'f');
    expect(all.map((r) => r.offset)).toEqual([5120, 5121, 5122, 5123]);
    expect(all.map((r) => Buffer.from(r.payload).toString())).toEqual(['a', 'bb', 'ccc', 'dddd']);
    expect(decodeFrame(frame, 5, 7, 5122, 100, 'f').map((r) => r.offset)).toEqual([5122, 5123]);
    expect(decodeFrame(frame, 5, 7, 5121, 2, 'f').map((r) => r.offset)).toEqual([5121, 5122]);
  });

  it('refuses a flipped payload byte, a frame of another partition, a cut frame and a foreign message', () => {
    const frame = encodeFrame(7, payloads);
    const rotten = Buffer.from(frame);
    rotten[rotten.length - 1] ^= 1;
    expect(() => decodeFrame(rotten, 5, 7, 0, 100, 'f')).toThrow(/CRC/);
    expect(() => decodeFrame(frame, 5, 8, 0, 100, 'f')).toThrow(/says partition 7/);
    expect(() => decodeFrame(frame.subarray(0, frame.length - 2), 5, 7, 0, 100, 'f')).toThrow(/cut short/);
    expect(() => decodeFrame(text('{"json":1}'), 5, 7, 0, 100, 'f')).toThrow(/not a sluice log frame/);
  });

  it('keeps offsets exact up to the largest frame sequence', () => {
    const last = recordOffset(MAX_FRAME_SEQ, RECORDS_PER_FRAME - 1);
    expect(Number.isSafeInteger(last)).toBe(true);
    expect(frameSeqOf(last)).toBe(MAX_FRAME_SEQ);
  });
});

describe('parseJetStreamLogConfig', () => {
  it('applies defaults', () => {
    expect(parseJetStreamLogConfig({ servers: ['nats://127.0.0.1:4222'] })).toMatchObject({
      stream: 'SLUICE',
      subjectPrefix: 'sluice.p',
      replicas: 1,
      maxFrameBytes: 65536,
      duplicateWindowMs: 120_000,
    });
  });

  it('names the path, the value and what to write, and masks secrets', () => {
    expect(() => parseJetStreamLogConfig({ servers: ['x'], replicas: 2 })).toThrow(/nats\.replicas: expected 1 .* or 3 .*\(got 2\)/);
    expect(() => parseJetStreamLogConfig({ servers: ['x'], stream: 'a.b' })).toThrow(/nats\.stream: use letters.*\(got "a\.b"\)/);
    expect(() => parseJetStreamLogConfig({ servers: ['x'], sever: 1 })).toThrow(/sever/);
    expect(() => parseJetStreamLogConfig({ servers: ['x'], user: 'u' })).toThrow(/user and pass together/);
    expect(() => parseJetStreamLogConfig({ servers: ['x'], token: 's3cret', user: 'u', pass: 'p' })).toThrow(/one of user\/pass, token or credsFile/);
    expect(() => parseJetStreamLogConfig({ servers: ['x'], token: 5 })).toThrow(/\*\*\*/);
  });
});
