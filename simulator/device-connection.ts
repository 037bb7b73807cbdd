import { connect, type Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { SluiceError } from '../core/index.js';

/** One publish waiting for its PUBACK, kept so a reconnect can send it again. */
interface InFlight {
  packetId: number;
  topic: string;
  payload: Buffer;
  sentAt: number;
  onAcked: (() => void) | undefined;
}

/** What a device connection reports to its fleet. */
export interface DeviceEvents {
  /** A QoS 1 publish was acknowledged after `latencyMs`. */
  acked(latencyMs: number): void;
  /** The connection dropped (not by close()); the device reconnects by itself. */
  dropped(): void;
  /** A publish went out again after a reconnect. */
  resent(): void;
}

export interface DeviceConnectionOptions {
  host: string;
  port: number;
  /** Source address, to spread connections over 127.0.0.x when ephemeral ports run short. */
  localAddress?: string;
  clientId: string;
  password?: string;
  qos: 0 | 1;
  /** QoS 1 publishes in flight before send() queues. */
  inflight: number;
}

/**
 * A lightweight MQTT 3.1.1 device on a raw socket (mqtt-packet): tens of thousands fit in
 * one process where as many mqtt.js clients would not. QoS 1 publishes stay in flight
 * until PUBACKed and are sent again, in order and flagged dup, after a reconnect, as a
 * device with a persistent outbox would; queued publishes wait for a free slot.
 */
export class DeviceConnection {
  private socket: Socket | undefined;
  private connected = false;
  private closing = false;
  private nextPacketId = 1;
  private readonly inFlight = new Map<number, InFlight>();
  // A FIFO with a moving head: shift() on a long backlog would be quadratic.
  private queue: { topic: string; payload: Buffer; onAcked: (() => void) | undefined }[] = [];
  private queueHead = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private o: DeviceConnectionOptions,
    private readonly events: DeviceEvents,
  ) {}

  /** Connects to this gateway from the next open() on (the current connection, if any, stays). */
  moveTo(target: { host: string; port: number }): void {
    this.o = { ...this.o, host: target.host, port: target.port };
  }

  /** Publishes not yet acknowledged (queued or in flight). */
  get outstanding(): number {
    return this.queue.length - this.queueHead + this.inFlight.size;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Opens the connection; rejects with the CONNACK return code on a refusal. */
  open(): Promise<void> {
    this.closing = false;
    return new Promise<void>((resolve, reject) => {
      const socket = connect({ host: this.o.host, port: this.o.port, localAddress: this.o.localAddress });
      socket.setNoDelay(true);
      this.socket = socket;
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      let settled = false;
      parser.on('packet', (p: Packet) => {
        if (p.cmd === 'puback') this.onPuback(p.messageId!);
        else if (p.cmd === 'connack') {
          settled = true;
          if (p.returnCode !== 0) {
            socket.destroy();
            return reject(new ConnectRefusedError(this.o.clientId, p.returnCode ?? -1));
          }
          this.connected = true;
          this.flushOnConnect();
          resolve();
        }
      });
      parser.on('error', () => socket.destroy());
      socket.on('data', (d) => parser.parse(d));
      socket.on('error', (err) => {
        if (!settled) {
          settled = true;
          reject(err);
        }
      });
      socket.on('close', () => {
        const was = this.connected;
        this.connected = false;
        if (this.socket === socket) this.socket = undefined;
        if (!settled) {
          settled = true;
          reject(new Error(`${this.o.clientId}: connection closed before CONNACK`));
        }
        if (was && !this.closing) this.events.dropped();
      });
      socket.write(
        mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: this.o.clientId, username: this.o.clientId, password: this.o.password === undefined ? undefined : Buffer.from(this.o.password), keepalive: 0 }),
      );
    });
  }

  /** Publishes now when connected and a slot is free, else queues; `onAcked` hears its PUBACK (QoS 1). */
  send(topic: string, payload: Buffer, onAcked?: () => void): void {
    if (this.o.qos === 0) {
      if (this.connected) this.socket!.write(mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false }));
      return;
    }
    if (this.connected && this.inFlight.size < this.o.inflight && this.queueHead === this.queue.length) this.publish(topic, payload, false, onAcked);
    else this.queue.push({ topic, payload, onAcked });
  }

  /** Drops the connection abruptly (churn); the fleet hears `dropped` and reconnects it. */
  drop(): void {
    this.socket?.destroy();
  }

  /** Resolves once nothing is queued or in flight. */
  idle(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Sends DISCONNECT and closes. */
  close(): void {
    this.closing = true;
    const socket = this.socket;
    if (!socket) return;
    if (this.connected) socket.end(mqttPacket.generate({ cmd: 'disconnect' }));
    else socket.destroy();
  }

  private publish(topic: string, payload: Buffer, dup: boolean, onAcked: (() => void) | undefined, packetId = this.takePacketId()): void {
    this.inFlight.set(packetId, { packetId, topic, payload, sentAt: performance.now(), onAcked });
    this.socket!.write(mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 1, messageId: packetId, retain: false, dup }));
  }

  private takePacketId(): number {
    // Skip ids still in flight: 65535 outstanding publishes would be needed to wrap onto one.
    do this.nextPacketId = this.nextPacketId === 65535 ? 1 : this.nextPacketId + 1;
    while (this.inFlight.has(this.nextPacketId));
    return this.nextPacketId;
  }

  private flushOnConnect(): void {
    // Unacknowledged publishes first, in their order, then the queue.
    for (const f of [...this.inFlight.values()]) {
      f.sentAt = performance.now();
      this.socket!.write(mqttPacket.generate({ cmd: 'publish', topic: f.topic, payload: f.payload, qos: 1, messageId: f.packetId, retain: false, dup: true }));
      this.events.resent();
    }
    this.drainQueue();
  }

  private drainQueue(): void {
    while (this.connected && this.inFlight.size < this.o.inflight && this.queueHead < this.queue.length) {
      const next = this.queue[this.queueHead]!;
      this.queue[this.queueHead++] = undefined!;
      this.publish(next.topic, next.payload, false, next.onAcked);
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  private onPuback(packetId: number): void {
    const f = this.inFlight.get(packetId);
    if (!f) return;
    this.inFlight.delete(packetId);
    this.events.acked(performance.now() - f.sentAt);
    f.onAcked?.();
    this.drainQueue();
    if (this.outstanding === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}

/** The broker refused a device's CONNECT. */
export class ConnectRefusedError extends SluiceError {
  constructor(
    clientId: string,
    readonly returnCode: number,
  ) {
    super('SLUICE_SIM_CONNECT_REFUSED', `${clientId}: CONNACK return code ${returnCode} (${returnCode === 4 || returnCode === 5 ? 'bad credentials: check --fleet-key and the gateway auth.mode' : returnCode === 3 ? 'server unavailable or full' : 'refused'})`);
  }
}

/**
 * No device could reach the gateway at all (nothing listens, no route, no such host): the
 * URL, or the mqtt.port it came from, is wrong, or the gateway is not running.
 */
export class GatewayUnreachableError extends SluiceError {
  constructor(url: string, cause: unknown) {
    const why = (cause as NodeJS.ErrnoException | undefined)?.code ?? (cause as Error | undefined)?.message ?? 'no answer';
    super('SLUICE_SIM_UNREACHABLE', `no gateway at ${url} (${why}); start one there, or point --url (or mqtt.port in the config) at a running gateway`, { cause });
  }
}
