/**
 * One nats-server process of the test harness: its config file, store dir and ports, and
 * the start/stop/kill of the process. Ports: the client and monitoring ports start as -1
 * (the server picks, and writes them to a ports file, the nats.js test pattern); they are
 * then written into the config so that a restart comes back on the same ports. Cluster
 * ports cannot be -1: every node's routes must name them before any node starts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const NATS_SERVER_BIN = process.env.SLUICE_TEST_NATS_SERVER ?? '/usr/sbin/nats-server';

/** Lines of output kept per node; older lines are dropped. */
const OUTPUT_LINES = 5000;

/** The cluster block of a node's config: its own route port and every member's. */
export interface ClusterPorts {
  name: string;
  port: number;
  routes: number[];
}

/** Every live child of every node, so that a crashing test worker still takes them down. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export class NatsNode {
  /** What the server printed (stdout and stderr), for diagnosing failures. */
  readonly output: string[] = [];
  port = -1;
  httpPort = -1;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    /** Holds the config file, the store dir and the ports file. */
    readonly dir: string,
    readonly cluster?: ClusterPorts,
    /** Further lines of the server config (e.g. an `authorization {}` block). */
    readonly extraConfig: readonly string[] = [],
  ) {}

  /** The client URL (valid once the node has started). */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** The server's process id while it runs (benches read its CPU and RSS from /proc). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Writes the config and spawns the server; resolves once its ports are known (not yet ready: see `waitHealthy`). */
  async start(): Promise<void> {
    if (this.child) throw new Error(`nats node ${this.name} is already running`);
    await mkdir(join(this.dir, 'store'), { recursive: true });
    const configFile = join(this.dir, 'nats.conf');
    await writeFile(configFile, this.config());
    const child = spawn(NATS_SERVER_BIN, ['-c', configFile, '--ports_file_dir', this.dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    children.add(child);
    const collect = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') this.output.push(`[${this.name}] ${line}`);
      if (this.output.length > OUTPUT_LINES) this.output.splice(0, this.output.length - OUTPUT_LINES);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.output.push(`[${this.name}] exited (code ${code}, signal ${signal})`);
        children.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    if (this.port === -1) await this.readPorts(child);
  }

  /** Polls the monitoring endpoint `/healthz` until it answers 200: JetStream is up and, in a cluster, has a meta leader and current assets. */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (!this.child) throw new Error(`nats node ${this.name} exited while starting:\n${this.tail()}`);
      try {
        const res = await fetch(`http://127.0.0.1:${this.httpPort}/healthz`);
        last = `${res.status} ${await res.text()}`;
        if (res.ok) return;
      } catch (err) {
        last = String(err);
      }
      // No event tells us when the meta group has elected a leader: polling is all there is.
      await sleep(100);
    }
    throw new Error(`nats node ${this.name} not healthy after ${timeoutMs} ms (last: ${last}):\n${this.tail()}`);
  }

  /** Sends `signal` (if running) and waits for the process to exit; SIGTERM escalates to SIGKILL after 10 s. */
  async signal(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    const timer = signal === 'SIGTERM' ? setTimeout(() => child.kill('SIGKILL'), 10_000) : undefined;
    await this.exited;
    clearTimeout(timer);
  }

  /** The last lines of output, for error messages. */
  tail(lines = 40): string {
    return this.output.slice(-lines).join('\n');
  }

  private config(): string {
    const lines = [
      `server_name: ${this.name}`,
      `listen: 127.0.0.1:${this.port}`,
      `http: 127.0.0.1:${this.httpPort}`,
      `jetstream { store_dir: ${JSON.stringify(join(this.dir, 'store'))}, max_memory_store: 268435456, max_file_store: 4294967296 }`,
    ];
    if (this.cluster) {
      const routes = this.cluster.routes.map((p) => `nats-route://127.0.0.1:${p}`).join(', ');
      lines.push(`cluster { name: ${this.cluster.name}, listen: 127.0.0.1:${this.cluster.port}, routes: [${routes}] }`);
    }
    lines.push(...this.extraConfig);
    return `${lines.join('\n')}\n`;
  }

  /** Reads the ports the server chose from its ports file (`nats-server_<pid>.ports`). */
  private async readPorts(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (this.child !== child) throw new Error(`nats node ${this.name} exited while starting:\n${this.tail()}`);
      const file = (await readdir(this.dir)).find((f) => f.endsWith(`_${child.pid}.ports`));
      if (file) {
        try {
          const ports = JSON.parse(await readFile(join(this.dir, file), 'utf8')) as { nats: string[]; monitoring: string[] };
          this.port = Number(new URL(ports.nats[0]!).port);
          this.httpPort = Number(new URL(ports.monitoring[0]!).port);
          return;
        } catch {
          // Written but not complete yet: read again.
        }
      }
      await sleep(20);
    }
    throw new Error(`nats node ${this.name} wrote no ports file within 10 s:\n${this.tail()}`);
  }
}
