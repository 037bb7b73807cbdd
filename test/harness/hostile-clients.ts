import { connect as tcpConnect, type Socket } from 'node:net';
import type { MqttClient } from 'mqtt';
import { connectDevice, encodeBatch } from './devices.js';

/** What one hostile client did, for the test's assertions and its report. */
export interface HostileStats {
  name: string;
  /** Publishes, CONNECTs or sockets it made. */
  attempts: number;
  /** PUBACKs it got (QoS 1) or CONNACK refusals (storms). */
  answered: number;
}

/** A hostile or broken client that runs until `signal` aborts; every loop is bounded by the signal. */
export type HostileClient = (url: string, signal: AbortSignal) => Promise<HostileStats>;

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

async function device(url: string, id: string, password?: string): Promise<MqttClient> {
  return connectDevice(url, id, password, { username: id, reconnectPeriod: 0 });
}

/** Keeps `window` QoS 1 publishes in flight at all times (never waits for the oldest), single readings. */
export function flood(id: string, password: string, window = 1000): HostileClient {
  return async (url, signal) => {
    const stats = { name: `flood (${window} in flight)`, attempts: 0, answered: 0 };
    const client = await device(url, id, password);
    let inFlight = 0;
    let wake: (() => void) | undefined;
    while (!signal.aborted) {
      if (inFlight >= window) {
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      inFlight++;
      const seq = ++stats.attempts;
      client
        .publishAsync(`devices/${id}/telemetry`, encodeBatch({ seq, readings: [{ metric: 'flood', timeUnixMs: Date.now(), doubleValue: seq }] }), { qos: 1 })
        .then(() => stats.answered++, () => undefined)
        .finally(() => {
          inFlight--;
          wake?.();
        });
      if (stats.attempts % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    wake?.();
    await client.endAsync(true);
    return stats;
  };
}

/** 10,000-reading Series messages, four in flight. */
export function bigSeries(id: string, password: string): HostileClient {
  return async (url, signal) => {
    const stats = { name: 'big Series (10,000 readings a message)', attempts: 0, answered: 0 };
    const client = await device(url, id, password);
    const values = Array.from({ length: 10_000 }, (_, i) => i);
    const deltas = new Array<number>(10_000).fill(0);
    const one = async (): Promise<void> => {
      while (!signal.aborted) {
        const seq = ++stats.attempts;
        await client.publishAsync(`devices/${id}/telemetry`, encodeBatch({ seq, series: [{ metric: 'bulk', startUnixMs: Date.now(), timeDeltaMs: deltas, values }] }), { qos: 1 });
        stats.answered++;
      }
    };
    await Promise.all([one(), one(), one(), one()]).catch(() => undefined);
    await client.endAsync(true);
    return stats;
  };
}

/** A new tag value in every message: the per-device series limit must refuse it. */
export function cardinality(id: string, password: string): HostileClient {
  return async (url, signal) => {
    const stats = { name: 'cardinality (a new tag value a message)', attempts: 0, answered: 0 };
    const client = await device(url, id, password);
    while (!signal.aborted) {
      const seq = ++stats.attempts;
      const readings = Array.from({ length: 50 }, (_, i) => ({ metric: 'req', timeUnixMs: Date.now(), doubleValue: i, tags: { request: `r-${seq}-${i}` } }));
      await client.publishAsync(`devices/${id}/telemetry`, encodeBatch({ seq, readings }), { qos: 1 }).catch(() => undefined);
      stats.answered++;
    }
    await client.endAsync(true);
    return stats;
  };
}

/** 500 messages every 100 ms whose tags InfluxDB cannot store or whose aggregates overflow. */
export function badPoints(id: string, password: string): HostileClient {
  return async (url, signal) => {
    const stats = { name: 'bad points (tag time, trailing backslash, 1.7e308)', attempts: 0, answered: 0 };
    const client = await device(url, id, password);
    const topic = `devices/${id}/telemetry`;
    while (!signal.aborted) {
      for (let i = 0; i < 500; i++) {
        const t = Date.now();
        const kind = stats.attempts++ % 3;
        const readings =
          kind === 0 ? [{ metric: 'bad', timeUnixMs: t, doubleValue: 1, tags: { time: 'x' } }]
          : kind === 1 ? [{ metric: 'bad', timeUnixMs: t, doubleValue: 1, tags: { path: 'C:\\' } }]
          : [{ metric: 'huge', timeUnixMs: t, doubleValue: 1.7e308 }, { metric: 'huge', timeUnixMs: t, doubleValue: 1.7e308 }];
        client.publish(topic, encodeBatch({ seq: 0, readings }), { qos: 0 });
      }
      await sleep(100, signal);
    }
    await client.endAsync(true);
    return stats;
  };
}

/** Connects, publishes five messages, disconnects; again and again. */
export function reconnectLoop(id: string, password: string): HostileClient {
  return async (url, signal) => {
    const stats = { name: 'reconnect loop', attempts: 0, answered: 0 };
    let seq = 0;
    while (!signal.aborted) {
      stats.attempts++;
      const client = await device(url, id, password).catch(() => undefined);
      if (!client) continue;
      await Promise.all(
        Array.from({ length: 5 }, () => client.publishAsync(`devices/${id}/telemetry`, encodeBatch({ seq: ++seq, readings: [{ metric: 'hop', timeUnixMs: Date.now(), doubleValue: seq }] }), { qos: 1 })),
      ).catch(() => undefined);
      stats.answered++;
      await client.endAsync(true);
    }
    return stats;
  };
}

/** ~50 CONNECTs a second with a wrong secret for a device id that exists. */
export function wrongSecretStorm(victimId: string): HostileClient {
  return async (url, signal) => {
    const stats = { name: 'wrong-secret CONNECT storm', attempts: 0, answered: 0 };
    while (!signal.aborted) {
      stats.attempts++;
      const client = await device(url, victimId, 'not-the-secret').catch(() => undefined);
      if (client) await client.endAsync(true);
      else stats.answered++;
      await sleep(20, signal);
    }
    return stats;
  };
}

/** Opens sockets that never send CONNECT (and re-opens those the gateway closes), up to `count` at once. */
export function silentSockets(port: number, count: number): HostileClient {
  return async (_url, signal) => {
    const stats = { name: `${count} sockets that never send CONNECT`, attempts: 0, answered: 0 };
    const open = new Set<Socket>();
    while (!signal.aborted) {
      while (open.size < count && !signal.aborted) {
        stats.attempts++;
        const socket = tcpConnect(port, '127.0.0.1');
        socket.on('error', () => undefined);
        socket.once('close', () => {
          open.delete(socket);
          stats.answered++;
        });
        open.add(socket);
      }
      await sleep(200, signal);
    }
    for (const socket of open) socket.destroy();
    return stats;
  };
}
