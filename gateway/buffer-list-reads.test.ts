import { createRequire } from 'node:module';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { readBufferListsInPlace } from './buffer-list-reads.js';

// bl as mqtt-packet loads it, and its methods before the patch: the reference.
const fromPacket = createRequire(createRequire(import.meta.url).resolve('mqtt-packet'));
const bl = fromPacket('bl') as (() => BufferList) & { prototype: BufferList };
interface BufferList {
  append(b: Buffer): void;
  readUInt8(offset?: number): number;
  readUInt16BE(offset?: number): number;
  readUInt32BE(offset?: number): number;
  toString(encoding?: BufferEncoding, start?: number, end?: number): string;
}
const original = { readUInt8: bl.prototype.readUInt8, readUInt16BE: bl.prototype.readUInt16BE, readUInt32BE: bl.prototype.readUInt32BE, toString: bl.prototype.toString };

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
});
