/**
 * Cluster members for tests of cluster/: each with its own NATS connection (optionally
 * through a FreezableProxy, to cut it off from NATS without closing anything), its
 * Membership and PartitionLeases sharing one HealthClock, on per-test bucket names.
 */
import { randomUUID } from 'node:crypto';
import { once, type EventEmitter } from 'node:events';
import { createServer, Socket, type Server } from 'node:net';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { HealthClock, Membership, parseClusterConfig, PartitionLeases, type ClusterConfig, type ClusterConfigInput } from '../../cluster/index.js';

/** Bucket names no other test uses. */
export function uniqueClusterBuckets(): Pick<ClusterConfig, 'membersBucket' | 'leasesBucket'> {
  const id = randomUUID().replaceAll('-', '').slice(0, 10);
  return { membersBucket: `MEM_${id}`, leasesBucket: `LEA_${id}` };
}

export interface TestMember {
  id: string;
  config: ClusterConfig;
  connection: NatsConnection;
  clock: HealthClock;
  membership: Membership;
  leases: PartitionLeases;
  /** Stops both (without leaving or releasing) and closes the connection; safe to call twice. */
  close(): Promise<void>;
}

/** Opens a member on `servers` (URLs) with `config` on top of the defaults. */
export async function openMember(servers: string[], config: ClusterConfigInput, options: { replicas?: number; partitions?: number } = {}): Promise<TestMember> {
  const parsed = parseClusterConfig(config);
  const connection = await connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 100, name: parsed.memberId });
  const clock = new HealthClock();
  const replicas = options.replicas ?? 1;
  try {
    const membership = await Membership.open({ connection, config: parsed, replicas, clock });
    const leases = await PartitionLeases.open({ connection, config: parsed, replicas, clock, partitions: options.partitions ?? 64 });
    return {
      id: parsed.memberId,
      config: parsed,
      connection,
      clock,
      membership,
      leases,
      close: async () => {
        await Promise.allSettled([membership.close(), leases.close()]);
        await connection.close().catch(() => undefined);
      },
    };
  } catch (err) {
    await connection.close().catch(() => undefined);
    throw err;
  }
}

/** Polls `check` every 50 ms until it returns true; rejects after `timeoutMs` with `what`. Returns the ms it took. */
export async function waitUntil(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The next `event` on `emitter` whose arguments pass `accept`; rejects after `timeoutMs`. */
export async function nextEvent<A extends unknown[]>(emitter: EventEmitter, event: string, timeoutMs: number, accept: (...args: A) => boolean = () => true): Promise<A> {
  const signal = AbortSignal.timeout(timeoutMs);
  for (;;) {
    const args = (await once(emitter, event, { signal }).catch((err: unknown) => {
      throw new Error(`no ${event} event within ${timeoutMs} ms`, { cause: err });
    })) as A;
    if (accept(...args)) return args;
  }
}

/**
 * A TCP proxy in front of one NATS server that can stop forwarding without closing
 * anything: the client behind it is cut off as by a network partition (its requests time
 * out, nothing disconnects), and reconnected by `resume()`.
 */
export class FreezableProxy {
  private readonly sockets = new Set<Socket>();
  private readonly pairs = new Set<[Socket, Socket]>();
  private frozen = false;
  private constructor(private readonly server: Server, readonly url: string) {}

  static async start(target: string): Promise<FreezableProxy> {
    const { hostname, port } = new URL(target);
    // The connection handler needs the proxy, which needs the server: a box breaks the cycle.
    const box: { proxy?: FreezableProxy } = {};
    const server = createServer((client) => {
      const proxy = box.proxy!;
      const upstream = new Socket();
      upstream.connect(Number(port), hostname);
      for (const s of [client, upstream]) {
        proxy.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => proxy.sockets.delete(s));
      }
      const pair: [Socket, Socket] = [client, upstream];
      proxy.pairs.add(pair);
      client.on('close', () => {
        upstream.destroy();
        proxy.pairs.delete(pair);
      });
      upstream.on('close', () => client.destroy());
      if (!proxy.frozen) FreezableProxy.flow(pair);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    box.proxy = new FreezableProxy(server, `nats://127.0.0.1:${(server.address() as { port: number }).port}`);
    return box.proxy;
  }

  /** Stops forwarding in both directions (the bytes wait in the kernel buffers). Unpiped, not just paused: a pipe resumes its source on drain. */
  freeze(): void {
    this.frozen = true;
    for (const [a, b] of this.pairs) {
      a.unpipe(b);
      b.unpipe(a);
      a.pause();
      b.pause();
    }
  }

  resume(): void {
    this.frozen = false;
    for (const pair of this.pairs) FreezableProxy.flow(pair);
  }

  private static flow([a, b]: [Socket, Socket]): void {
    a.pipe(b);
    b.pipe(a);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
