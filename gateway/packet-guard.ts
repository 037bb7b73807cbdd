import { isUtf8 } from 'node:buffer';
import type { Duplex } from 'node:stream';

/** Why a connection was cut by the guard (also its metric label). */
export type GuardViolation = 'packet_too_large' | 'topic_invalid_utf8' | 'topic_null_char' | 'packet_timeout';

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
  /** Packets whose last byte has been seen. */
  completed = 0;

  constructor(private readonly maxPacketBytes: number) {}

  /** Checks one chunk; returns the violation that must close the connection, if any. */
  inspect(chunk: Buffer): GuardViolation | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        if (this.skip === 0) this.completed++;
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
      if (this.skip === 0) this.completed++;
      if (this.packetType === PUBLISH) {
        const violation = checkTopic(chunk, i, this.length);
        if (violation) return violation;
      }
    }
    return undefined;
  }

  /** True between a packet's first byte and its last. */
  get midPacket(): boolean {
    return this.headerBytes > 0 || this.skip > 0;
  }
}

/** Validates a PUBLISH topic when it lies wholly inside this chunk (it nearly always does). */
function checkTopic(chunk: Buffer, at: number, bodyLength: number): GuardViolation | undefined {
  if (at + 2 > chunk.length || bodyLength < 2) return undefined;
  const topicLength = chunk.readUInt16BE(at);
  const end = at + 2 + topicLength;
  if (end > chunk.length) return undefined;
  // One pass over the bytes, no view allocated: topics are nearly always ASCII, and only
  // a topic with a byte >= 0x80 needs the full UTF-8 check. A 0 byte is U+0000 in any
  // well-formed UTF-8 (an overlong form fails isUtf8).
  let ascii = true;
  for (let k = at + 2; k < end; k++) {
    const byte = chunk[k]!;
    if (byte === 0) return 'topic_null_char';
    if (byte >= 0x80) ascii = false;
  }
  if (!ascii && !isUtf8(chunk.subarray(at + 2, end))) return 'topic_invalid_utf8';
  return undefined;
}

export interface GuardOptions {
  maxPacketBytes: number;
  /** Time a packet has from its first byte to its last; 0 = no limit. */
  packetTimeoutMs: number;
}

export interface GuardEvents {
  violation(v: GuardViolation): void;
  /** The first complete packet (the CONNECT, if the client follows the protocol) has arrived. */
  firstPacket?(): void;
}

/**
 * Puts a PacketGuard in front of a stream aedes is about to read: aedes pulls bytes with
 * `read()`, so the guard sees each chunk first and destroys the stream on a violation.
 *
 * It also times each packet from its first byte: a slowloris client sends a header and
 * then trickles the rest, or nothing, and aedes' keep-alive timer never fires because it
 * is only refreshed by whole packets (and keep-alive 0 has none). When the time is up and
 * aedes has read everything the client sent, the client is the one that is late and the
 * connection is closed. When unread bytes wait in the stream, aedes is not reading (a held
 * publish is backpressure, not the client's fault), so the timer starts again.
 */
export function guardStream(stream: Duplex, options: GuardOptions, events: GuardEvents): void {
  const guard = new PacketGuard(options.maxPacketBytes);
  const read = stream.read.bind(stream);
  let timer: NodeJS.Timeout | undefined;
  let timedPacket = -1;
  const stopTimer = (): void => {
    clearTimeout(timer);
    timer = undefined;
  };
  const startTimer = (): void => {
    timer = setTimeout(onTimeout, options.packetTimeoutMs);
    timer.unref();
  };
  const onTimeout = (): void => {
    timer = undefined;
    if (stream.destroyed) return;
    if (stream.readableLength > 0) return startTimer();
    events.violation('packet_timeout');
    stream.destroy();
  };
  stream.once('close', stopTimer);
  stream.read = (size?: number) => {
    const chunk = read(size) as Buffer | null;
    if (chunk === null) return null;
    const before = guard.completed;
    const violation = guard.inspect(chunk);
    if (violation !== undefined) {
      stopTimer();
      events.violation(violation);
      stream.destroy();
      return null;
    }
    if (before === 0 && guard.completed > 0) events.firstPacket?.();
    if (options.packetTimeoutMs > 0) {
      if (!guard.midPacket) stopTimer();
      else if (timer === undefined || timedPacket !== guard.completed) {
        // A new packet has begun (the one timed before completed): its own deadline.
        stopTimer();
        timedPacket = guard.completed;
        startTimer();
      }
    }
    return chunk;
  };
}
