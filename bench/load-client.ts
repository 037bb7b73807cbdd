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
  private readonly sentAt = new Float64Array(65536);
  private nextId = 1;
  private running = false;
  private readonly template: Buffer;
  private readonly idOffset: number;

  private constructor(
    private readonly socket: Socket,
    topic: string,
    payload: Buffer,
    private readonly window: number,
    private readonly latency: Histogram,
  ) {
    this.template = mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 1, messageId: 1, retain: false, dup: false });
    this.idOffset = this.template.length - payload.length - 2;
  }

  /** Connects and completes the MQTT handshake as `clientId`. */
  static async open(port: number, clientId: string, topic: string, payload: Buffer, window: number, latency: Histogram): Promise<LoadClient> {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const client = new LoadClient(socket, topic, payload, window, latency);
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

  private publish(): void {
    const id = this.nextId;
    this.nextId = id === 65535 ? 1 : id + 1;
    const packet = Buffer.from(this.template);
    packet.writeUInt16BE(id, this.idOffset);
    this.sentAt[id] = performance.now();
    this.socket.write(packet);
  }

  private onPuback(id: number): void {
    this.acked++;
    this.latency.recordValue(Math.max(1, Math.round((performance.now() - this.sentAt[id]!) * 1000)));
    if (this.running) this.publish();
  }

  /** Closes the connection. */
  close(): void {
    this.socket.end(mqttPacket.generate({ cmd: 'disconnect' }));
  }
}
