import { isUtf8 } from 'node:buffer';
import type { Duplex } from 'node:stream';

/** Why a connection was cut by the guard (also its metric label). */
export type GuardViolation = 'packet_too_large' | 'topic_invalid_utf8' | 'topic_null_char';

const PUBLISH = 3;

/**
 * Follows MQTT fixed headers in the bytes aedes reads from a connection, so that a packet
 * larger than `maxPacketBytes` closes the connection as soon as its header arrives,
 * before mqtt-packet buffers the body; and a PUBLISH topic that is not well-formed UTF-8
 * or contains U+0000 closes it too ([MQTT-1.5.3-1], [MQTT-1.5.3-2]), which mqtt-packet
 * would otherwise decode with replacement characters. Works per read chunk, not per byte
 * copy: a chunk is only walked from header to header.
 */
export class PacketGuard {
  private skip = 0;
  private headerBytes = 0;
  private packetType = 0;
  private length = 0;
  private multiplier = 1;

  constructor(private readonly maxPacketBytes: number) {}

  /** Checks one chunk; returns the violation that must close the connection, if any. */
  inspect(chunk: Buffer): GuardViolation | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      const byte = chunk[i++]!;
      if (this.headerBytes === 0) {
        this.packetType = byte >> 4;
        this.headerBytes = 1;
        this.length = 0;
        this.multiplier = 1;
        continue;
      }
      this.headerBytes++;
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      if (byte & 0x80 && this.headerBytes < 5) continue;
      if (this.length + this.headerBytes > this.maxPacketBytes) return 'packet_too_large';
      this.headerBytes = 0;
      this.skip = this.length;
      if (this.packetType === PUBLISH) {
        const violation = checkTopic(chunk, i, this.length);
        if (violation) return violation;
      }
    }
    return undefined;
  }
}

/** Validates a PUBLISH topic when it lies wholly inside this chunk (it nearly always does). */
function checkTopic(chunk: Buffer, at: number, bodyLength: number): GuardViolation | undefined {
  if (at + 2 > chunk.length || bodyLength < 2) return undefined;
  const topicLength = chunk.readUInt16BE(at);
  const end = at + 2 + topicLength;
  if (end > chunk.length) return undefined;
  const topic = chunk.subarray(at + 2, end);
  if (topic.includes(0)) return 'topic_null_char';
  if (!isUtf8(topic)) return 'topic_invalid_utf8';
  return undefined;
}

/**
 * Puts a PacketGuard in front of a stream aedes is about to read: aedes pulls bytes with
 * `read()`, so the guard sees each chunk first and destroys the stream on a violation.
 */
export function guardStream(stream: Duplex, maxPacketBytes: number, onViolation: (v: GuardViolation) => void): void {
  const guard = new PacketGuard(maxPacketBytes);
  const read = stream.read.bind(stream);
  stream.read = (size?: number) => {
    const chunk = read(size) as Buffer | null;
    if (chunk === null) return null;
    const violation = guard.inspect(chunk);
    if (violation === undefined) return chunk;
    onViolation(violation);
    stream.destroy();
    return null;
  };
}
