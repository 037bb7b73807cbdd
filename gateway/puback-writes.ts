import { createRequire } from 'node:module';

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
