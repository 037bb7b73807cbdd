import { createRequire } from 'node:module';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it, vi } from 'vitest';
import { readBufferListsInPlace } from './buffer-list-reads.js';

// bl as mqtt-packet loads it, and its methods before the patch: the reference.
const fromPacket = createRequire(createRequire(import.meta.url).resolve('mqtt-packet'));
const bl = fromPacket('bl') as (() => BufferList) & { prototype: BufferList };
interface BufferList {
  length: number;
  append(b: Buffer): void;
  consume(bytes: number): void;
  get(index: number): number | undefined;
  slice(start?: number, end?: number): Buffer;
  readUInt8(offset?: number): number;
  readUInt16BE(offset?: number): number;
  readUInt32BE(offset?: number): number;
  toString(encoding?: BufferEncoding, start?: number, end?: number): string;
}
const p = bl.prototype;
const original = { append: p.append, consume: p.consume, get: p.get, slice: p.slice, readUInt8: p.readUInt8, readUInt16BE: p.readUInt16BE, readUInt32BE: p.readUInt32BE, toString: p.toString };

/** The outcome of a call, a thrown error's class and message included. */
function outcome(f: () => unknown): unknown {
  try {
    return f();
  } catch (err) {
    return `${(err as Error).name}: ${(err as Error).message}`;
  }
}

describe('readBufferListsInPlace', () => {
  it('reads what bl itself reads, at every offset and range, whatever the chunks', () => {
    readBufferListsInPlace();
    expect(bl.prototype.readUInt8).not.toBe(original.readUInt8);
    const bytes = Buffer.from(Array.from({ length: 23 }, (_, i) => (i * 37 + 11) & 0xff));
    bytes.write('héllo', 5, 'utf8');
    for (const cuts of [[], [1], [4, 9], [2, 3, 16, 22]]) {
      const list = bl();
      let at = 0;
      for (const cut of [...cuts, bytes.length]) {
        list.append(bytes.subarray(at, cut));
        at = cut;
      }
      for (let offset = -1; offset <= bytes.length + 1; offset++) {
        expect(outcome(() => list.readUInt8(offset))).toEqual(outcome(() => original.readUInt8.call(list, offset)));
        expect(outcome(() => list.readUInt16BE(offset))).toEqual(outcome(() => original.readUInt16BE.call(list, offset)));
        expect(outcome(() => list.readUInt32BE(offset))).toEqual(outcome(() => original.readUInt32BE.call(list, offset)));
        for (let end = offset; end <= bytes.length + 1; end++) {
          expect(list.toString('utf8', offset, end)).toBe(original.toString.call(list, 'utf8', offset, end));
          expect(list.toString('hex', offset, end)).toBe(original.toString.call(list, 'hex', offset, end));
        }
      }
    }
  });

  it("reads, slices and consumes as bl does over a random run of appends and consumes (the first chunk consumed in place)", () => {
    readBufferListsInPlace();
    expect(bl.prototype.consume).not.toBe(original.consume);
    // Seeded (xorshift), so a failure repeats.
    let seed = 0x2545f491;
    const rand = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const list = bl();
    // The reference: the same appends and consumes through bl's own methods (its first chunk is always really sliced).
    const reference = bl();
    let next = 0;
    for (let step = 0; step < 5000; step++) {
      if (rand(3) === 0 || list.length === 0) {
        const chunk = Buffer.from(Array.from({ length: 1 + rand(24) }, () => (next++ * 73) & 0xff));
        list.append(chunk);
        original.append.call(reference, chunk);
      } else {
        // Mostly within the first chunk; sometimes to its end, across chunks, or past the end.
        const bytes = rand(4) === 0 ? rand(list.length + 3) : 1 + rand(4);
        list.consume(bytes);
        original.consume.call(reference, bytes);
      }
      expect(list.length).toBe(reference.length);
      // A read outside the first chunk makes the list slice it for real, so each step checks
      // a few random reads, the first of them against the list as the consume left it.
      for (let check = 0; check < 3; check++) {
        const offset = rand(list.length + 2) - 1;
        const end = offset + rand(8) - 1;
        const read = [
          (l: BufferList) => l.readUInt8(offset),
          (l: BufferList) => l.readUInt16BE(offset),
          (l: BufferList) => l.readUInt32BE(offset),
          (l: BufferList) => l.get(offset),
          (l: BufferList) => l.toString('hex', offset, end),
          (l: BufferList) => l.slice(offset, end).toString('hex'),
          (l: BufferList) => l.slice().toString('hex'),
        ][rand(7)]!;
        const reads = { readUInt8: original.readUInt8, readUInt16BE: original.readUInt16BE, readUInt32BE: original.readUInt32BE, get: original.get, toString: original.toString, slice: original.slice };
        // The reference through bl's own methods (an object whose methods are the originals, on the reference's state).
        const bare = Object.assign(Object.create(reference) as BufferList, reads);
        expect(outcome(() => read(list))).toEqual(outcome(() => read(bare)));
      }
    }
  });

  it("is what mqtt-packet's parser reads with, and PUBLISH packets split at any byte still parse whole", () => {
    readBufferListsInPlace();
    const packets = [1, 300, 20_000].map((size, i) =>
      mqttPacket.generate({ cmd: 'publish', topic: `devices/dév-${i}/telemetry`, payload: Buffer.alloc(size, i + 1), qos: 1, messageId: 40_000 + i, retain: false, dup: false }),
    );
    const stream = Buffer.concat(packets);
    for (const step of [1, 2, 3, 7, 64, 1_000, stream.length]) {
      const parser = mqttPacket.parser();
      expect((parser as unknown as { _list: BufferList })._list.readUInt8).toBe(bl.prototype.readUInt8);
      const parsed: mqttPacket.IPublishPacket[] = [];
      parser.on('packet', (p) => parsed.push(p as mqttPacket.IPublishPacket));
      for (let at = 0; at < stream.length; at += step) parser.parse(stream.subarray(at, at + step));
      expect(parsed.map((p) => [p.topic, p.messageId, (p.payload as Buffer).length, (p.payload as Buffer)[0]])).toEqual([
        ['devices/dév-0/telemetry', 40_000, 1, 1],
        ['devices/dév-1/telemetry', 40_001, 300, 2],
        ['devices/dév-2/telemetry', 40_002, 20_000, 3],
      ]);
    }
  });

  it("gives a connection's repeated PUBLISH topic as one string, and a different topic of the same length as its own", () => {
    readBufferListsInPlace();
    const topics = ['devices/a-1/telemetry', 'devices/a-1/telemetry', 'devices/b-2/telemetry', 'devices/a-1/telemetry', 'devices/ä-1/telemetry'];
    const stream = Buffer.concat(topics.map((topic, i) => mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from([i]), qos: 1, messageId: i + 1, retain: false, dup: false })));
    const parser = mqttPacket.parser();
    const parsed: string[] = [];
    parser.on('packet', (p) => parsed.push((p as mqttPacket.IPublishPacket).topic));
    // Decoded afresh: the first a-1, b-2, a-1 again (the last text was b-2's), ä-1; the second a-1 is the first's string.
    const decodes = vi.spyOn(Buffer.prototype, 'toString');
    parser.parse(stream);
    expect(decodes.mock.calls.filter(([encoding]) => encoding === 'utf8')).toHaveLength(4);
    decodes.mockRestore();
    expect(parsed).toEqual(topics);
  });
});
