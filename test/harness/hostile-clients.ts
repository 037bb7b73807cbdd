import { connect as tcpConnect, type Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { encodeBatch } from './devices.js';

/** What one hostile client did, for the test's assertions and its report. */
export interface HostileStats {
  name: string;
  /** Publishes, CONNECTs or sockets it made. */
  attempts: number;
  /** PUBACKs it got (QoS 1) or CONNACK refusals (storms). */
  answered: number;
  /** Times the gateway closed its connection. */
  closes: number;
}

/**
 * A hostile or broken client that runs until `signal` aborts; every loop is bounded by the
 * signal. It connects to 127.0.0.1:`port` from `address` (another 127.0.0.x: another host,
 * so per-address limits meet it, not the honest devices).
 */
export type HostileClient = (port: number, address: string, signal: AbortSignal) => Promise<HostileStats>;

/** Resolves when `p` settles or `signal` aborts, whichever is first (a publish on a connection the gateway closed may never settle). */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => resolve(v),
      () => resolve(undefined),
    ).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

const sleep = (ms: number, signal: AbortSignal): Promise<unknown> => abortable(new Promise((resolve) => setTimeout(resolve, ms).unref()), signal);

/** An mqtt.js client from `address` (mqtt.js's own TCP builder cannot choose the source address). */
async function device(port: number, address: string, id: string, password: string | undefined, stats: HostileStats): Promise<MqttClient> {
  const client = new mqtt.MqttClient(() => tcpConnect({ port, host: '127.0.0.1', localAddress: address }), {
    clientId: id,
    username: id,
    password,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error(`${id}: closed before CONNACK`)));
  });
  client.on('error', () => undefined);
  client.on('close', () => stats.closes++);
  return client;
}

/** Keeps `window` QoS 1 publishes in flight at all times (never waits for the oldest), single readings. */
export function flood(id: string, password: string, window = 1000): HostileClient {
  return async (port, address, signal) => {
    const stats = { name: `flood (${window} in flight)`, attempts: 0, answered: 0, closes: 0 };
    const client = await device(port, address, id, password, stats);
    let inFlight = 0;
    let wake: (() => void) | undefined;
    while (!signal.aborted) {
      if (inFlight >= window) {
        await abortable(new Promise<void>((resolve) => (wake = resolve)), signal);
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
    await abortable(client.endAsync(true), AbortSignal.timeout(2_000));
    return stats;
  };
}

/** 10,000-reading Series messages, four in flight. */
export function bigSeries(id: string, password: string): HostileClient {
  return async (port, address, signal) => {
    const stats = { name: 'big Series (10,000 readings a message)', attempts: 0, answered: 0, closes: 0 };
    const client = await device(port, address, id, password, stats);
    const values = Array.from({ length: 10_000 }, (_, i) => i);
    const deltas = new Array<number>(10_000).fill(0);
    const one = async (): Promise<void> => {
      while (!signal.aborted) {
        const seq = ++stats.attempts;
        const acked = await abortable(client.publishAsync(`devices/${id}/telemetry`, encodeBatch({ seq, series: [{ metric: 'bulk', startUnixMs: Date.now(), timeDeltaMs: deltas, values }] }), { qos: 1 }), signal);
        if (acked) stats.answered++;
      }
    };
    await Promise.all([one(), one(), one(), one()]).catch(() => undefined);
    await abortable(client.endAsync(true), AbortSignal.timeout(2_000));
    return stats;
  };
}

/** A new tag value in every message: the per-device series limit must refuse it. */
export function cardinality(id: string, password: string): HostileClient {
  return async (port, address, signal) => {
    const stats = { name: 'cardinality (a new tag value a message)', attempts: 0, answered: 0, closes: 0 };
    const client = await device(port, address, id, password, stats);
    while (!signal.aborted) {
      const seq = ++stats.attempts;
      const readings = Array.from({ length: 50 }, (_, i) => ({ metric: 'req', timeUnixMs: Date.now(), doubleValue: i, tags: { request: `r-${seq}-${i}` } }));
      if (await abortable(client.publishAsync(`devices/${id}/telemetry`, encodeBatch({ seq, readings }), { qos: 1 }), signal)) stats.answered++;
    }
    await abortable(client.endAsync(true), AbortSignal.timeout(2_000));
    return stats;
  };
}

/** 500 messages every 100 ms whose tags InfluxDB cannot store or whose aggregates overflow. */
export function badPoints(id: string, password: string): HostileClient {
  return async (port, address, signal) => {
    const stats = { name: 'bad points (tag time, trailing backslash, 1.7e308)', attempts: 0, answered: 0, closes: 0 };
    const client = await device(port, address, id, password, stats);
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
    await abortable(client.endAsync(true), AbortSignal.timeout(2_000));
    return stats;
  };
}

/** Connects, publishes five messages, disconnects; again and again. */
export function reconnectLoop(id: string, password: string): HostileClient {
  return async (port, address, signal) => {
    const stats = { name: 'reconnect loop', attempts: 0, answered: 0, closes: 0 };
    let seq = 0;
    while (!signal.aborted) {
      stats.attempts++;
      const client = await abortable(device(port, address, id, password, stats), signal);
      if (!client) continue;
      const published = Promise.all(
        Array.from({ length: 5 }, () => client.publishAsync(`devices/${id}/telemetry`, encodeBatch({ seq: ++seq, readings: [{ metric: 'hop', timeUnixMs: Date.now(), doubleValue: seq }] }), { qos: 1 })),
      );
      if (await abortable(published, signal)) stats.answered++;
      await abortable(client.endAsync(true), signal);
    }
    return stats;
  };
}

/** ~50 CONNECTs a second with a wrong secret for a device id that exists. */
export function wrongSecretStorm(victimId: string): HostileClient {
  return async (port, address, signal) => {
    const stats = { name: 'wrong-secret CONNECT storm', attempts: 0, answered: 0, closes: 0 };
    while (!signal.aborted) {
      stats.attempts++;
      const client = await abortable(device(port, address, victimId, 'not-the-secret', stats), signal);
      if (client) await abortable(client.endAsync(true), signal);
      else stats.answered++;
      await sleep(20, signal);
    }
    return stats;
  };
}

/** Opens sockets that never send CONNECT (and re-opens those the gateway closes), up to `count` at once. */
export function silentSockets(count: number): HostileClient {
  return async (port, address, signal) => {
    const stats = { name: `${count} sockets that never send CONNECT`, attempts: 0, answered: 0, closes: 0 };
    const open = new Set<Socket>();
    while (!signal.aborted) {
      while (open.size < count && !signal.aborted) {
        stats.attempts++;
        const socket = tcpConnect({ port, host: '127.0.0.1', localAddress: address });
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
