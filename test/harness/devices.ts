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
