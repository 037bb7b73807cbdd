import { describe, expect, it } from 'vitest';
import { PacketGuard } from './packet-guard.js';
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
