import { connect, type Socket } from 'node:net';
import type { Histogram } from 'hdr-histogram-js';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { Series } from '../proto/index.js';

/**
 * A minimal MQTT publisher for benchmarks: keeps `window` QoS 1 publishes in flight on one
 * connection (closed loop) or sends at a set rate with at most `window` in flight (paced),
 * and records publish→PUBACK latency. Raw mqtt-packet on a socket, with one prebuilt
 * PUBLISH whose packet id is patched per send, so the load generator costs little of the
 * CPU it shares with the broker.
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
  private onDrained: { resolve: () => void; reject: (err: Error) => void } | undefined;
  /** Why the broker's side ended the connection before close(), once it has. */
  private lostWith: Error | undefined;
  private closing = false;
  /** Where the payload's fixed-width event times sit in the packet (see fleetPayload), each set per publish to the publish's time. */
  private readonly timeOffsets: number[];
  /** Paced: publishes per millisecond, when the pacing began, and how many have come due since. */
  private pace: { perMs: number; fromMs: number; due: number } | undefined;
  /**
   * Paced: when each publish due but not yet sent came due (a ring). Latency counts from
   * then, not from the send, so a broker slow to PUBACK is charged for the wait it caused
   * (no coordinated omission).
   */
  private readonly backlog = new Float64Array(BACKLOG);
  private backlogHead = 0;
  private backlogSize = 0;
  /** Paced: publishes that came due while the backlog was full, never sent. */
  shed = 0;
  private sendLag: Pick<Histogram, 'recordValue'> | undefined;

  private constructor(
    private readonly socket: Socket,
    topic: string,
    payload: Buffer,
    private readonly window: number,
    private readonly latency: Pick<Histogram, 'recordValue'>,
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
  static async open(port: number, clientId: string, topic: string, payload: Buffer, window: number, latency: Pick<Histogram, 'recordValue'>, numbered = false, times?: TimedPayload, localAddress?: string): Promise<LoadClient> {
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
      // A broker at a connection limit may just close: without this the bench waited for a CONNACK forever.
      socket.once('close', () => reject(new Error(`${clientId}: the broker closed the connection before its CONNACK`)));
      socket.once('error', reject);
    });
    socket.once('close', () => client.onClose(clientId));
    // One write for every publish the PUBACKs of one read set off, not one syscall each:
    // the generator shares the cores with the broker it measures, and its writes were 62 %
    // of its CPU under the fleet load.
    socket.on('data', (d) => {
      socket.cork();
      parser.parse(d);
      socket.uncork();
    });
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

  /**
   * Starts paced publishing at `perSecond` from `nowMs` (performance.now() time): call
   * offer() often; publishes go out as they come due, at most `window` in flight. `phase`
   * (0 to 1) is how far into its first period the sender already is: independent devices
   * are not in step, and 19 000 that publish once a minute all at once are a burst, not a fleet.
   * `sendLag` records, in µs, how long after it came due each publish was first offered:
   * the generator's own lateness (a stalled event loop, a core taken), which the
   * publish→PUBACK latency includes but no broker caused.
   */
  startPaced(perSecond: number, nowMs: number, phase = 0, sendLag?: Pick<Histogram, 'recordValue'>): void {
    if (!(phase >= 0 && phase < 1)) throw new RangeError(`phase must be in [0, 1), got ${phase}`);
    this.running = true;
    const perMs = perSecond / 1000;
    this.pace = { perMs, fromMs: nowMs - phase / perMs, due: 0 };
    this.sendLag = sendLag;
  }

  /** Paced: queues every publish due by `nowMs` and sends what the window allows. */
  offer(nowMs: number): void {
    const pace = this.pace;
    if (pace === undefined || !this.running) return;
    const due = Math.floor((nowMs - pace.fromMs) * pace.perMs);
    for (; pace.due < due; pace.due++) {
      // Publishes due between two offers are spread evenly over the gap, as a steady sender would send them.
      const at = pace.fromMs + (pace.due + 1) / pace.perMs;
      this.sendLag?.recordValue(Math.max(1, Math.round((nowMs - at) * 1000)));
      if (this.backlogSize === BACKLOG) this.shed++;
      else this.backlog[(this.backlogHead + this.backlogSize++) % BACKLOG] = at;
    }
    this.socket.cork();
    this.pump();
    this.socket.uncork();
  }

  /** Publishes in flight (sent, not yet acknowledged). */
  get inFlight(): number {
    return this.sent - this.acked;
  }

  /** Stops sending new publishes (those in flight still complete). */
  stop(): void {
    this.running = false;
  }

  /** Resolves once every publish sent has been acknowledged (after stop()). */
  drained(): Promise<void> {
    if (this.acked >= this.sent) return Promise.resolve();
    if (this.lostWith !== undefined) return Promise.reject(this.lostWith);
    return new Promise((resolve, reject) => (this.onDrained = { resolve, reject }));
  }

  /** The socket closed: unless close() asked for it, publishes still in flight will never be acknowledged. */
  private onClose(clientId: string): void {
    if (this.closing) return;
    this.running = false;
    this.lostWith = new Error(`${clientId}: the broker closed the connection with ${this.sent - this.acked} of ${this.sent} publishes unacknowledged`);
    if (this.acked < this.sent) this.onDrained?.reject(this.lostWith);
  }

  private pump(): void {
    while (this.backlogSize > 0 && this.sent - this.acked < this.window) {
      const dueAt = this.backlog[this.backlogHead]!;
      this.backlogHead = (this.backlogHead + 1) % BACKLOG;
      this.backlogSize--;
      this.publish(dueAt);
    }
  }

  private publish(dueAt?: number): void {
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
    this.sentAt[id] = dueAt ?? performance.now();
    this.socket.write(packet);
  }

  private onPuback(id: number): void {
    this.acked++;
    this.latency.recordValue(Math.max(1, Math.round((performance.now() - this.sentAt[id]!) * 1000)));
    if (!this.running) {
      if (this.acked >= this.sent) this.onDrained?.resolve();
    } else if (this.pace !== undefined) this.pump();
    else this.publish();
  }

  /** Closes the connection. */
  close(): void {
    this.closing = true;
    this.socket.end(mqttPacket.generate({ cmd: 'disconnect' }));
  }
}

/** Paced publishes that may wait for the window per connection; more are shed (counted). */
const BACKLOG = 8192;

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
