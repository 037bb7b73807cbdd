import type { MqttClient } from 'mqtt';
import { connectDevice, encodeBatch, publishReliably } from './devices.js';
import { addExpected, type ExpectedPoint } from './lockstep-fleet.js';

export interface FloodDeviceOptions {
  /** Event time of message 0, unix ms; message k is stamped `baseMs + k · stepMs`. */
  baseMs: number;
  stepMs?: number;
  /** Payloads as JSON on the /json topic instead of protobuf. */
  json?: boolean;
  /** QoS 0 publishes (fire and forget); `drained()` then ends with one QoS 1 publish as a barrier. */
  qos0?: boolean;
}

/**
 * A device without an in-flight window: each burst sends its messages all at once and
 * waits for none of their PUBACKs, nor for the previous burst's (an edge device flushing
 * a backlog does this; MQTT 3.1.1 has no receive maximum). Message k (seq k + 1) holds one
 * reading of metric `level`. A QoS 1 message not acknowledged within 3 s, or across a
 * reconnect, is re-sent with the same seq; `resends` counts every re-send.
 */
export class FloodDevice {
  client: MqttClient | undefined;
  /** Messages sent so far (each once or more). */
  sent = 0;
  /** Publishes of a message beyond its first. */
  resends = 0;
  private readonly acks: Promise<void>[] = [];
  private readonly stepMs: number;
  private readonly topic: string;

  constructor(
    readonly id: string,
    private readonly o: FloodDeviceOptions,
  ) {
    this.stepMs = o.stepMs ?? 50;
    this.topic = `devices/${id}/telemetry${o.json ? '/json' : ''}`;
  }

  /** Connects (mqtt.js reconnects by itself after a server restart). */
  async connect(url: string): Promise<void> {
    this.client = await connectDevice(url, this.id, undefined, { username: undefined, reconnectPeriod: 100, clean: true });
  }

  value(k: number): number {
    return Math.round(10_000 * Math.cos(k * 0.61 + this.id.length)) / 100;
  }

  time(k: number): number {
    return this.o.baseMs + k * this.stepMs;
  }

  private payload(k: number): Buffer {
    const reading = { metric: 'level', timeUnixMs: this.time(k), value: this.value(k) };
    if (this.o.json) return Buffer.from(JSON.stringify({ seq: k + 1, readings: [reading] }));
    return encodeBatch({ seq: k + 1, readings: [{ metric: reading.metric, timeUnixMs: reading.timeUnixMs, doubleValue: reading.value }] });
  }

  /** Sends the next `n` messages at once, without waiting for any PUBACK. */
  burst(n: number): void {
    for (let k = this.sent; k < this.sent + n; k++) this.publish(k);
    this.sent += n;
  }

  /** Sends message k again, the same seq: a real re-send the processors must count once. */
  resend(k: number): void {
    this.resends++;
    this.publish(k);
  }

  private publish(k: number): void {
    const client = this.client!;
    if (this.o.qos0) {
      this.acks.push(client.publishAsync(this.topic, this.payload(k), { qos: 0 }).then(() => undefined));
      return;
    }
    this.acks.push(publishReliably(client, this.topic, this.payload(k), `${this.id} message ${k}`).then((attempts) => void (this.resends += attempts - 1)));
  }

  /** Resolves once every QoS 1 message sent so far is acknowledged (for QoS 0: after a final QoS 1 message, whose PUBACK means every earlier one was taken). */
  async drained(): Promise<void> {
    if (this.o.qos0) {
      const k = this.sent++;
      this.acks.push(publishReliably(this.client!, this.topic, this.payload(k), `${this.id} barrier`).then(() => undefined));
    }
    await Promise.all(this.acks);
  }

  /** Adds this device's expected points for a tumbling window of `sizeMs` (keys device/metric/windowStart). */
  expected(sizeMs: number, into: Map<string, ExpectedPoint>): Map<string, ExpectedPoint> {
    for (let k = 0; k < this.sent; k++) addExpected(into, `${this.id}/level/${Math.floor(this.time(k) / sizeMs) * sizeMs}`, this.value(k));
    return into;
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    await this.client?.endAsync(true);
  }
}
