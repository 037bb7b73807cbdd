/**
 * Real nats-server (JetStream) for integration tests: one node, or a 3-node cluster on
 * loopback, each node with its own store dir under one temp dir. `destroy()` kills every
 * process and removes the dir; call it in afterAll/finally so a failing test cleans up.
 */
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { NatsNode } from './nats-node.js';
import { tempDir } from './temp-dir.js';

export { NATS_SERVER_BIN } from './nats-node.js';

export interface TestNats {
  /** Client URLs of every node, in node order (stable across stop/start). */
  servers: string[];
  nodes: readonly NatsNode[];
  /** SIGKILL node `i` and wait for it to exit (a crash: no clean shutdown). */
  kill(i: number): Promise<void>;
  /** SIGTERM node `i` and wait for it to exit. */
  stop(i: number): Promise<void>;
  /** Starts node `i` again on the same ports and store dir; resolves once it is healthy. */
  start(i: number): Promise<void>;
  /** Kills every node and removes the temp dir. */
  destroy(): Promise<void>;
  /** Every node's captured output, for a failing test's message. */
  output(): string;
}

/** Who may connect to a test server: a user and password, or a token. */
export type NatsTestAuth = { user: string; pass: string } | { token: string };

/** Starts one nats-server with JetStream (with `auth`, only for those credentials); resolves once JetStream is ready. */
export async function startNatsServer(options: { auth?: NatsTestAuth } = {}): Promise<TestNats> {
  const auth = options.auth;
  const extra = auth === undefined ? [] : 'token' in auth ? [`authorization { token: ${JSON.stringify(auth.token)} }`] : [`authorization { user: ${JSON.stringify(auth.user)}, password: ${JSON.stringify(auth.pass)} }`];
  return startNodes(1, extra);
}

/**
 * Starts a JetStream cluster of `size` nodes (default 3) routed to each other; resolves
 * once every node reports healthy, which includes an elected meta leader.
 */
export async function startNatsCluster(size = 3): Promise<TestNats> {
  // Route ports are reserved by binding and releasing, so another process may grab one
  // before the server binds it: a node that fails to start is retried with new ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNodes(size);
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

async function startNodes(size: number, extraConfig: readonly string[] = []): Promise<TestNats> {
  const dir = await tempDir('sluice-nats-');
  const nodes: NatsNode[] = [];
  const destroy = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.signal('SIGKILL')));
    await dir.remove();
  };
  try {
    const routes = size > 1 ? await reservePorts(size) : [];
    for (let i = 0; i < size; i++) {
      const cluster = size > 1 ? { name: 'sluice-test', port: routes[i]!, routes } : undefined;
      nodes.push(new NatsNode(`n${i}`, join(dir.path, `n${i}`), cluster, extraConfig));
    }
    for (const node of nodes) await node.start();
    await Promise.all(nodes.map((n) => n.waitHealthy()));
  } catch (err) {
    await destroy();
    throw err;
  }
  const node = (i: number): NatsNode => {
    const n = nodes[i];
    if (!n) throw new Error(`no nats node ${i}; the harness has nodes 0..${nodes.length - 1}`);
    return n;
  };
  return {
    servers: nodes.map((n) => n.url),
    nodes,
    kill: (i) => node(i).signal('SIGKILL'),
    stop: (i) => node(i).signal('SIGTERM'),
    start: async (i) => {
      await node(i).start();
      await node(i).waitHealthy();
    },
    destroy,
    output: () => nodes.map((n) => n.tail(200)).join('\n'),
  };
}

/** `n` distinct loopback ports free right now: all bound at once, then released. */
async function reservePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}
