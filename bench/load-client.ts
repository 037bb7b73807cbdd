import { connect, type Socket } from 'node:net';
import type { Histogram } from 'hdr-histogram-js';
import mqttPacket, { type Packet } from 'mqtt-packet';

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

  private constructor(
    private readonly socket: Socket,
    topic: string,
    payload: Buffer,
    private readonly window: number,
    private readonly latency: Histogram,
    numbered: boolean,
  ) {
    this.template = mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 1, messageId: 1, retain: false, dup: false });
    this.idOffset = this.template.length - payload.length - 2;
    this.seqOffset = numbered ? this.template.length - payload.length + SEQ_SLOT_AT : -1;
  }

  /**
   * Connects and completes the MQTT handshake as `clientId`. `numbered`: the payload was
   * built by withSeqSlot, and publish n carries seq n, so every reading is distinct to
   * the processors' de-duplication and an end-to-end count can be exact.
   */
  static async open(port: number, clientId: string, topic: string, payload: Buffer, window: number, latency: Histogram, numbered = false): Promise<LoadClient> {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const client = new LoadClient(socket, topic, payload, window, latency, numbered);
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
