import { createHmac } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { ReadingBatch, type IReadingBatch } from '../../proto/index.js';

/** The token-mode password for a device: hex HMAC-SHA256(fleetKey, deviceId). */
export function deviceToken(fleetKey: string, deviceId: string): string {
  return createHmac('sha256', fleetKey).update(deviceId).digest('hex');
}

/** A protobuf ReadingBatch payload. */
export function encodeBatch(batch: IReadingBatch): Buffer {
  return Buffer.from(ReadingBatch.encode(batch).finish());
}

/** Connects a real mqtt.js client as `deviceId` (no reconnects: tests want to see refusals). */
export function connectDevice(url: string, deviceId: string, password: string | undefined, extra: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, {
    clientId: deviceId,
    username: deviceId,
    password,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...extra,
  });
}

/** Resolves when the client's connection closes. */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!client.connected && client.disconnected) resolve();
    client.once('close', () => resolve());
  });
}

/**
 * Publishes at QoS 1 until a PUBACK comes, re-sending (same payload, so the same seq) when
 * none comes within 3 s or the connection drops, as a device with a retry loop would.
 * Bounded, so a broken gateway fails the test with a reason instead of hanging it.
 * Resolves with the number of attempts it took.
 */
export async function publishReliably(client: MqttClient, topic: string, payload: Buffer, label: string): Promise<number> {
  for (let attempt = 1; attempt <= 20; attempt++) {
    if (!client.connected) await new Promise((resolve) => client.once('connect', resolve));
    const acked = client.publishAsync(topic, payload, { qos: 1 }).then(() => true, () => false);
    const gaveUp = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000));
    if (await Promise.race([acked, gaveUp])) return attempt;
  }
  throw new Error(`${label}: no PUBACK after 20 attempts`);
}
