import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Client, PublishPacket } from 'aedes';
import { answerPublishes, restoreAnsweredQos, writePubacksWhole } from './puback-writes.js';

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

describe('answerPublishes', () => {
  /** An aedes client as answerPublishes sees it: connected, on a recording socket. */
  const client = (): { client: Client; flushes: Buffer[][] } => {
    const { stream, flushes } = recordingStream();
    return { client: { connected: true, conn: stream } as unknown as Client, flushes };
  };
  const packet = (qos: 0 | 1 | 2, messageId?: number): PublishPacket => ({ cmd: 'publish', topic: 't', payload: Buffer.alloc(0), qos, dup: false, retain: false, ...(messageId === undefined ? {} : { messageId }) });
  const pubacks = (ids: number[]): string => Buffer.concat(ids.map((id) => mqttPacket.generate({ cmd: 'puback', messageId: id }))).toString('hex');

  it("writes each connection's PUBACKs in batch order in one write, marks those packets QoS 0 for aedes, and restores QoS 1 before routing", async () => {
    const a = client();
    const b = client();
    const batch = [
      { client: a.client, packet: packet(1, 1) },
      { client: b.client, packet: packet(1, 65535) },
      { client: a.client, packet: packet(1, 256) },
      { client: undefined, packet: undefined }, // QoS 0, or a publish the gateway does not answer
      { client: a.client, packet: packet(0) },
      { client: b.client, packet: packet(1, 7) },
      { client: a.client, packet: packet(1, 2) },
    ];
    answerPublishes(batch);
    await tick();
    expect(a.flushes.map((f) => Buffer.concat(f).toString('hex'))).toEqual([pubacks([1, 256, 2])]);
    expect(b.flushes.map((f) => Buffer.concat(f).toString('hex'))).toEqual([pubacks([65535, 7])]);
    expect(batch.map((p) => p.packet?.qos)).toEqual([0, 0, 0, undefined, 0, 0, 0]);
    for (const p of batch) if (p.packet) restoreAnsweredQos(p.packet);
    // Only the answered ones get QoS 1 back: a QoS 0 publish stays QoS 0.
    expect(batch.map((p) => p.packet?.qos)).toEqual([1, 1, 1, undefined, 0, 1, 1]);
  });

  it('leaves to aedes the publishes of a connection that is closing or whose socket buffer is full, and QoS 2', async () => {
    const gone = client();
    (gone.client as { connected: boolean }).connected = false;
    const destroyed = client();
    destroyed.client.conn.destroy();
    const full = client();
    Object.defineProperty(full.client.conn, 'writableNeedDrain', { value: true });
    const qos2 = client();
    const batch = [gone, destroyed, full].map((c) => ({ client: c.client, packet: packet(1, 9) }));
    batch.push({ client: qos2.client, packet: packet(2, 9) });
    answerPublishes(batch);
    await tick();
    for (const c of [gone, destroyed, full, qos2]) expect(c.flushes).toEqual([]);
    expect(batch.map((p) => p.packet.qos)).toEqual([1, 1, 1, 2]);
  });
});
