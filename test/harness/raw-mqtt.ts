import { connect, type Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';

/** A bare TCP MQTT connection for sending packets a well-behaved client library never would. */
export class RawMqtt {
  readonly packets: Packet[] = [];
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  private waiters: (() => void)[] = [];
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    this.parser.on('packet', (p: Packet) => {
      this.packets.push(p);
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('data', (d) => this.parser.parse(d));
    socket.on('error', () => {}); // a reset is how the broker closes some connections; 'close' follows

    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** Opens a TCP connection to the broker, from `localAddress` when given (e.g. 127.0.0.2, to act as another host). */
  static async open(port: number, localAddress?: string): Promise<RawMqtt> {
    const socket = connect({ port, host: '127.0.0.1', ...(localAddress === undefined ? {} : { localAddress }) });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawMqtt(socket);
  }

  /** Sends a packet built by mqtt-packet. */
  send(packet: Record<string, unknown>): void {
    this.socket.write(mqttPacket.generate(packet as unknown as Packet));
  }

  /** Sends raw bytes. */
  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Resolves with the first received packet of the given command. */
  next(cmd: string): Promise<Packet> {
    return this.nth(cmd, 1);
  }

  /** Resolves with the n-th (from 1) received packet of the given command. */
  async nth(cmd: string, n: number): Promise<Packet> {
    for (;;) {
      const found = this.packets.filter((p) => p.cmd === cmd)[n - 1];
      if (found) return found;
      await Promise.race([new Promise<void>((resolve) => this.waiters.push(resolve)), this.closed.then(() => { throw new Error(`closed before ${cmd}`); })]);
    }
  }
}

/** A PUBLISH packet from raw parts, so the topic can be any bytes. */
export function rawPublish(topic: Buffer, payload: Buffer, qos: 0 | 1, messageId: number): Buffer {
  const idBytes = qos > 0 ? Buffer.from([messageId >> 8, messageId & 0xff]) : Buffer.alloc(0);
  const body = Buffer.concat([Buffer.from([topic.length >> 8, topic.length & 0xff]), topic, idBytes, payload]);
  const len: number[] = [];
  let x = body.length;
  do {
    let b = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) b |= 0x80;
    len.push(b);
  } while (x > 0);
  return Buffer.concat([Buffer.from([0x30 | (qos << 1), ...len]), body]);
}
