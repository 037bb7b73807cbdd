import { createRequire } from 'node:module';
import type { Client, PublishPacket } from 'aedes';

/**
 * aedes answers each QoS 1 PUBLISH with `mqttPacket.writeToStream({ cmd: 'puback', … },
 * socket)`, which writes the packet in three `socket.write` calls (header byte, length
 * byte, packet id): three entries in the socket's write buffer and three buffers in the
 * `writev` that flushes it, per PUBACK. Under single-reading load the PUBACK writes are the
 * largest item of the gateway thread's profile. A 3.1.1 PUBACK is always the same four
 * bytes for a packet id, so this writes it as one cached buffer, corked until the next tick
 * as mqtt-packet does (PUBACKs released together still leave in one `writev`; one cork
 * and one scheduled uncork per connection and tick, not per packet), and returns
 * what mqtt-packet returns for it (true). Every other packet, and any MQTT 5 one, goes to
 * mqtt-packet unchanged.
 */
export function writePubacksWhole(): void {
  if (patched) return;
  patched = true;
  const fromAedes = createRequire(createRequire(import.meta.url).resolve('aedes'));
  const mqttPacket = fromAedes('mqtt-packet') as { writeToStream: WriteToStream };
  const real = mqttPacket.writeToStream;
  mqttPacket.writeToStream = function (packet, stream, opts) {
    const id = packet.messageId;
    if (packet.cmd !== 'puback' || opts?.protocolVersion === 5 || packet.properties !== undefined || typeof id !== 'number' || !(id >= 0 && id <= 0xffff) || id % 1 !== 0) {
      return real(packet, stream, opts);
    }
    // One cork and one uncork per connection and tick (mqtt-packet schedules one per packet).
    if (stream.cork && stream[CORKED] !== true) {
      stream.cork();
      stream[CORKED] = true;
      process.nextTick(uncork, stream);
    }
    stream.write((PUBACKS[id] ??= Buffer.from([0x40, 0x02, id >> 8, id & 0xff])));
    return true;
  };
}

let patched = false;
/** PUBACK bytes by packet id, made on first use: immutable, shared by every connection. */
const PUBACKS: (Buffer | undefined)[] = new Array<Buffer | undefined>(0x10000);

/** Set on a connection while it is corked for the PUBACKs of this tick. */
const CORKED = Symbol('sluice.pubacksCorked');

function uncork(stream: Writable): void {
  stream[CORKED] = false;
  stream.uncork?.();
}

interface Writable {
  [CORKED]?: boolean;
  write(chunk: Buffer): boolean;
  cork?(): void;
  uncork?(): void;
}

type WriteToStream = (packet: { cmd: string; messageId?: number; properties?: unknown }, stream: Writable, opts?: { protocolVersion?: number }) => boolean;

/** A publish as the ingest pipeline keeps it: for a QoS 1 one, aedes' client and packet, so the gateway can answer it itself. */
export interface AnswerablePublish {
  client: Client | undefined;
  packet: PublishPacket | undefined;
}

/** Set on a packet the gateway answered itself; broker.publish gives it its QoS back (restoreAnsweredQos). */
const ANSWERED = Symbol('sluice.answeredByGateway');
type AnsweredPacket = PublishPacket & { [ANSWERED]?: true };

/**
 * Writes the PUBACKs of a released (durable) micro-batch's QoS 1 publishes: one buffer and
 * one `write` per connection, its PUBACKs in batch order (the order they arrived in), and
 * marks those packets QoS 0 so that aedes, once called back, goes straight to routing.
 * aedes' own QoS 1 path cost each publish a PubAck object, a closure, a stream write (a
 * write-buffer entry and its callback) and a `setImmediate` before the callback: about a
 * quarter of everything the gateway thread allocated under the fleet load (heap sampling),
 * and allocation sets how often the young generation is collected while ~10 000 publishes
 * wait to be made durable. A connection that is closing, or whose socket buffer is full,
 * is left to aedes (it reports the closed connection, or waits for the drain before
 * reading more), as is every publish not given here (QoS 0 and 2, wills).
 */
export function answerPublishes(publishes: readonly AnswerablePublish[]): void {
  let ids: Map<Client, number[]> | undefined;
  for (let i = 0; i < publishes.length; i++) {
    const { client, packet } = publishes[i]!;
    if (client === undefined || packet === undefined || packet.qos !== 1 || !writable(client)) continue;
    ids ??= new Map();
    const own = ids.get(client);
    if (own === undefined) ids.set(client, [packet.messageId!]);
    else own.push(packet.messageId!);
    packet.qos = 0;
    (packet as AnsweredPacket)[ANSWERED] = true;
  }
  if (ids === undefined) return;
  for (const [client, own] of ids) {
    const bytes = Buffer.allocUnsafe(4 * own.length);
    for (let k = 0; k < own.length; k++) {
      bytes[4 * k] = 0x40;
      bytes[4 * k + 1] = 0x02;
      bytes.writeUInt16BE(own[k]!, 4 * k + 2);
    }
    client.conn.write(bytes);
  }
}

/** Gives a packet answered by answerPublishes its QoS 1 back, before aedes routes it to subscribers. */
export function restoreAnsweredQos(packet: PublishPacket): void {
  if ((packet as AnsweredPacket)[ANSWERED] === true) packet.qos = 1;
}

function writable(client: Client): boolean {
  const conn = client.conn as Client['conn'] & { destroyed?: boolean; writableNeedDrain?: boolean };
  return client.connected && conn.destroyed !== true && conn.writableNeedDrain !== true;
}
