import { connect, type Socket } from 'node:net';
import type { Histogram } from 'hdr-histogram-js';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { Series } from '../proto/index.js';

/**
 * A minimal closed-loop MQTT publisher for benchmarks: keeps `window` QoS 1 publishes in
 * flight on one connection and records publish→PUBACK latency. Raw mqtt-packet on a
 * socket, with one prebuilt PUBLISH whose packet id is patched per send, so the load
 * generator costs little of the CPU it shares with the broker.
 */
export class LoadClient {
  acked = 0;
  /** Publishes written so far. */
  sent = 0;
  private readonly sentAt = new Float64Array(65536);
  private nextId = 1;
  private running = false;
  private readonly template: Buffer;
  private readonly idOffset: number;
  /** Where the payload's fixed-width seq sits in the packet (see withSeqSlot), or −1 when every publish repeats the payload as it is. */
  private readonly seqOffset: number;
  private onDrained: (() => void) | undefined;
  /** Where the payload's fixed-width event times sit in the packet (see fleetPayload), each set per publish to the publish's time. */
  private readonly timeOffsets: number[];

  private constructor(
    private readonly socket: Socket,
    topic: string,
    payload: Buffer,
    private readonly window: number,
    private readonly latency: Histogram,
    numbered: boolean,
    private readonly times: TimedPayload | undefined,
  ) {
    this.template = mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 1, messageId: 1, retain: false, dup: false });
    this.idOffset = this.template.length - payload.length - 2;
    this.seqOffset = numbered ? this.template.length - payload.length + SEQ_SLOT_AT : -1;
    this.timeOffsets = (times?.timeSlots ?? []).map((at) => this.template.length - payload.length + at);
  }

  /**
   * Connects and completes the MQTT handshake as `clientId`. `numbered`: the payload was
   * built by withSeqSlot, and publish n carries seq n, so every reading is distinct to
   * the processors' de-duplication and an end-to-end count can be exact.
   */
  static async open(port: number, clientId: string, topic: string, payload: Buffer, window: number, latency: Histogram, numbered = false, times?: TimedPayload, localAddress?: string): Promise<LoadClient> {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    socket.setNoDelay(true);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const client = new LoadClient(socket, topic, payload, window, latency, numbered, times);
    const connack = new Promise<void>((resolve, reject) => {
      parser.on('packet', (p: Packet) => {
        if (p.cmd === 'connack') {
          if (p.returnCode === 0) resolve();
          else reject(new Error(`CONNACK ${p.returnCode}`));
        } else if (p.cmd === 'puback') client.onPuback(p.messageId!);
      });
      socket.once('error', reject);
    });
    socket.on('data', (d) => parser.parse(d));
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, username: clientId, keepalive: 60 }));
    await connack;
    return client;
  }

  /** Starts publishing with `window` publishes in flight. */
  start(): void {
    this.running = true;
    this.socket.cork();
    for (let i = 0; i < this.window; i++) this.publish();
    process.nextTick(() => this.socket.uncork());
  }

  /** Stops sending new publishes (those in flight still complete). */
  stop(): void {
    this.running = false;
  }

  /** Resolves once every publish sent has been acknowledged (after stop()). */
  drained(): Promise<void> {
    if (this.acked >= this.sent) return Promise.resolve();
    return new Promise((resolve) => (this.onDrained = resolve));
  }

  private publish(): void {
    const id = this.nextId;
    this.nextId = id === 65535 ? 1 : id + 1;
    const packet = Buffer.from(this.template);
    packet.writeUInt16BE(id, this.idOffset);
    this.sent++;
    if (this.seqOffset >= 0) writeSeq(packet, this.seqOffset, this.sent);
    if (this.times !== undefined) {
      const t = this.times.startMs + (this.sent - 1) * this.times.stepMs;
      for (const at of this.timeOffsets) writeTime(packet, at, t);
    }
    this.sentAt[id] = performance.now();
    this.socket.write(packet);
  }

  private onPuback(id: number): void {
    this.acked++;
    this.latency.recordValue(Math.max(1, Math.round((performance.now() - this.sentAt[id]!) * 1000)));
    if (this.running) this.publish();
    else if (this.acked >= this.sent) this.onDrained?.();
  }

  /** Closes the connection. */
  close(): void {
    this.socket.end(mqttPacket.generate({ cmd: 'disconnect' }));
  }
}

/** The seq field's tag byte, then a 5-byte varint (seq < 2^35), at the start of a withSeqSlot payload. */
const SEQ_SLOT_AT = 1;
const SEQ_SLOT_BYTES = 5;

/**
 * A ReadingBatch payload whose seq (field 1) is a fixed-width slot the LoadClient fills
 * per publish, in front of `rest` (a ReadingBatch encoded without seq). Protobuf parsers
 * accept the over-long varint, and fields may come in any order.
 */
export function withSeqSlot(rest: Uint8Array): Buffer {
  const payload = Buffer.alloc(SEQ_SLOT_AT + SEQ_SLOT_BYTES + rest.byteLength);
  payload[0] = 0x08; // field 1, varint
  writeSeq(payload, SEQ_SLOT_AT, 0);
  payload.set(rest, SEQ_SLOT_AT + SEQ_SLOT_BYTES);
  return payload;
}

function writeSeq(buf: Buffer, at: number, seq: number): void {
  for (let i = 0; i < SEQ_SLOT_BYTES - 1; i++) {
    buf[at + i] = (seq % 128) | 0x80;
    seq = Math.floor(seq / 128);
  }
  buf[at + SEQ_SLOT_BYTES - 1] = seq & 0x7f;
}

/** Sets the seq of a withSeqSlot payload (LoadClient does the same in its packets). */
export function numberPayload(payload: Buffer, seq: number): void {
  writeSeq(payload, SEQ_SLOT_AT, seq);
}

/** A payload with event-time slots: publish n (from 1) carries startMs + (n − 1) · stepMs in every slot. */
export interface TimedPayload {
  payload: Buffer;
  /** Byte offsets of the fixed-width start_unix_ms varints in `payload`. */
  timeSlots: number[];
  startMs: number;
  stepMs: number;
}

/** start_unix_ms as a 7-byte varint: times up to 2^49 ms (year 19 800). */
const TIME_SLOT_BYTES = 7;

function writeTime(buf: Buffer, at: number, ms: number): void {
  for (let i = 0; i < TIME_SLOT_BYTES - 1; i++) {
    buf[at + i] = (ms % 128) | 0x80;
    ms = Math.floor(ms / 128);
  }
  buf[at + TIME_SLOT_BYTES - 1] = ms & 0x7f;
}

/**
 * A numbered ReadingBatch (see withSeqSlot) of one Series per metric, `readings` values
 * `spacingMs` apart, whose start times are slots the LoadClient sets per publish so a
 * device's event time moves on by `readings · spacingMs` with each message, as a real
 * sensor's does: windows close on the devices' own clocks, not only on the idle timeout.
 */
export function fleetPayload(metrics: readonly string[], readings: number, spacingMs: number, startMs: number): TimedPayload {
  const parts: Uint8Array[] = [];
  const slotsInRest: number[] = [];
  let length = 0;
  for (const [m, metric] of metrics.entries()) {
    const body = Series.encode({ metric, timeDeltaMs: Array.from({ length: readings }, (_, i) => i * spacingMs), values: Array.from({ length: readings }, (_, i) => 20 + m * 10 + Math.sin(i)) }).finish();
    const seriesLength = 1 + TIME_SLOT_BYTES + body.byteLength;
    const head = Buffer.from([0x1a, ...varint(seriesLength), 0x10]); // field 3 (series), then its field 2 (start_unix_ms)
    slotsInRest.push(length + head.length);
    parts.push(head, Buffer.alloc(TIME_SLOT_BYTES), body);
    length += head.length + TIME_SLOT_BYTES + body.byteLength;
  }
  const payload = withSeqSlot(Buffer.concat(parts));
  const timeSlots = slotsInRest.map((at) => SEQ_SLOT_AT + SEQ_SLOT_BYTES + at);
  for (const at of timeSlots) writeTime(payload, at, startMs);
  return { payload, timeSlots, startMs, stepMs: readings * spacingMs };
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** Sets every time slot of a fleetPayload (LoadClient does the same in its packets). */
export function timePayload(p: TimedPayload, ms: number): void {
  for (const at of p.timeSlots) writeTime(p.payload, at, ms);
}
