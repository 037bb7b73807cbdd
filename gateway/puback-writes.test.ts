import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { writePubacksWhole } from './puback-writes.js';

// mqtt-packet as aedes loads it: the module whose writeToStream aedes calls.
const mqttPacket = createRequire(createRequire(import.meta.url).resolve('aedes'))('mqtt-packet') as typeof import('mqtt-packet');
const realWrite = mqttPacket.writeToStream;

/** A socket-like stream that records each flush: the buffers `_writev` (or `_write`) got. */
function recordingStream(): { stream: Writable; flushes: Buffer[][] } {
  const flushes: Buffer[][] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      flushes.push([chunk]);
      cb();
    },
    writev(chunks, cb) {
      flushes.push(chunks.map((c) => c.chunk as Buffer));
      cb();
    },
  });
  return { stream, flushes };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('writePubacksWhole', () => {
  it("writes each 3.1.1 PUBACK as mqtt-packet's four bytes in one buffer, PUBACKs of one tick in one writev", async () => {
    writePubacksWhole();
    expect(mqttPacket.writeToStream).not.toBe(realWrite);
    const ids = [1, 2, 255, 256, 4660, 65535];
    const { stream, flushes } = recordingStream();
    // Two ticks: the connection is corked afresh in each, and each tick's PUBACKs leave in one writev.
    for (const round of [0, 1]) {
      for (const id of ids) expect(mqttPacket.writeToStream({ cmd: 'puback', messageId: id }, stream)).toBe(true);
      expect(flushes.length).toBe(round);
      await tick();
      expect(flushes.length).toBe(round + 1);
      expect(flushes[round]!.map((b) => b.toString('hex'))).toEqual(ids.map((id) => mqttPacket.generate({ cmd: 'puback', messageId: id }).toString('hex')));
    }
  });

  it('leaves MQTT 5 PUBACKs and every other packet to mqtt-packet', async () => {
    writePubacksWhole();
    const cases: [Parameters<typeof realWrite>[0], Parameters<typeof realWrite>[2]][] = [
      [{ cmd: 'puback', messageId: 7, reasonCode: 16 }, { protocolVersion: 5 }],
      [{ cmd: 'pubrec', messageId: 7 }, undefined],
      [{ cmd: 'publish', topic: 'a/b', payload: Buffer.from('x'), qos: 1, messageId: 7, retain: false, dup: false }, undefined],
    ];
    for (const [packet, opts] of cases) {
      const { stream, flushes } = recordingStream();
      mqttPacket.writeToStream(packet, stream, opts);
      await tick();
      expect(Buffer.concat(flushes.flat()).toString('hex')).toBe(mqttPacket.generate(packet, opts).toString('hex'));
    }
  });
});
