import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PacketGuard, guardStream, type GuardViolation } from './packet-guard.js';
import { TokenBucket } from './token-bucket.js';
import { rawPublish } from '../test/harness/raw-mqtt.js';

const publishPacket = (topic: Buffer, payloadBytes: number): Buffer => rawPublish(topic, Buffer.alloc(payloadBytes), 0, 0);

describe('PacketGuard', () => {
  it('passes packets at the limit, split across chunks anywhere', () => {
    const stream = Buffer.concat([publishPacket(Buffer.from('a/b'), 1000), publishPacket(Buffer.from('c'), 10)]);
    for (let cut = 1; cut < stream.length; cut += 97) {
      const guard = new PacketGuard(1008);
      expect(guard.inspect(stream.subarray(0, cut))).toBeUndefined();
      expect(guard.inspect(stream.subarray(cut))).toBeUndefined();
    }
  });

  it('flags an oversize packet from its header alone', () => {
    const packet = publishPacket(Buffer.from('t'), 5000);
    expect(new PacketGuard(4096).inspect(packet.subarray(0, 4))).toBe('packet_too_large');
  });

  it('flags a topic with invalid UTF-8 or U+0000', () => {
    expect(new PacketGuard(4096).inspect(publishPacket(Buffer.from([0x61, 0xff, 0x62]), 1))).toBe('topic_invalid_utf8');
    expect(new PacketGuard(4096).inspect(publishPacket(Buffer.from([0x61, 0x00, 0x62]), 1))).toBe('topic_null_char');
    expect(new PacketGuard(4096).inspect(publishPacket(Buffer.from('dévices/ü'), 1))).toBeUndefined();
  });
});

describe('TokenBucket', () => {
  it('lets a burst through, then spaces messages at the rate', () => {
    const bucket = new TokenBucket(100, 10, 0);
    for (let i = 0; i < 10; i++) expect(bucket.delayFor(1, 0)).toBe(0);
    expect(bucket.delayFor(1, 0)).toBeCloseTo(10);
    expect(bucket.delayFor(1, 0)).toBeCloseTo(20);
    expect(bucket.delayFor(1, 1000)).toBe(0);
  });
});

describe('guardStream packet timeout (slowloris)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function guarded(): { stream: PassThrough; violations: GuardViolation[]; firstPackets: number } {
    const stream = new PassThrough();
    const seen = { stream, violations: [] as GuardViolation[], firstPackets: 0 };
    guardStream(stream, { maxPacketBytes: 4096, packetTimeoutMs: 1000 }, { violation: (v) => seen.violations.push(v), firstPacket: () => seen.firstPackets++ });
    return seen;
  }
  const packet = publishPacket(Buffer.from('t'), 20);

  it('closes a stream whose packet stops half-way once the time is up', () => {
    vi.useFakeTimers();
    const g = guarded();
    g.stream.write(packet.subarray(0, 6));
    g.stream.read();
    vi.advanceTimersByTime(999);
    expect(g.stream.destroyed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(g.violations).toEqual(['packet_timeout']);
    expect(g.stream.destroyed).toBe(true);
  });

  it('times each packet from its own first byte, and not between packets', () => {
    vi.useFakeTimers();
    const g = guarded();
    g.stream.write(packet.subarray(0, 6));
    g.stream.read();
    vi.advanceTimersByTime(900);
    // The rest of the first packet and the start of a second one.
    g.stream.write(Buffer.concat([packet.subarray(6), packet.subarray(0, 3)]));
    g.stream.read();
    expect(g.firstPackets).toBe(1);
    vi.advanceTimersByTime(900);
    g.stream.write(packet.subarray(3));
    g.stream.read();
    vi.advanceTimersByTime(60_000);
    expect(g.violations).toEqual([]);
    expect(g.stream.destroyed).toBe(false);
  });

  it('does not blame the client for bytes the broker has not read yet', () => {
    vi.useFakeTimers();
    const g = guarded();
    g.stream.write(packet.subarray(0, 6));
    g.stream.read();
    g.stream.write(packet.subarray(6)); // arrived, but nobody reads (a held publish)
    vi.advanceTimersByTime(5000);
    expect(g.stream.destroyed).toBe(false);
    g.stream.read();
    vi.advanceTimersByTime(5000);
    expect(g.violations).toEqual([]);
  });
});
