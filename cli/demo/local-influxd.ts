import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SluiceError } from '../../core/index.js';

/** A TCP port nobody listens on right now: `preferred` when it is free, else one the OS picks. */
export async function freePort(preferred = 0): Promise<number> {
  const probe = (port: number): Promise<number | undefined> =>
    new Promise((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(undefined));
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : undefined));
      });
    });
  return (preferred > 0 ? await probe(preferred) : undefined) ?? (await probe(0)) ?? Promise.reject(new Error('no free TCP port'));
}

/** influxd's config for a private instance: its dirs under `dir`, loopback only, background jobs off. */
function configToml(dir: string, httpPort: number, rpcPort: number, authEnabled: boolean): string {
  // Monitor store, continuous queries and query/meta logging are off: they write to disk
  // and to stderr in the background, which only slows and clutters a local instance.
  return `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"
[meta]
  dir = "${join(dir, 'meta')}"
  logging-enabled = false
[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[http]
  bind-address = "127.0.0.1:${httpPort}"
  log-enabled = false
  pprof-enabled = false
  auth-enabled = ${authEnabled}
[logging]
  level = "warn"
  suppress-logo = true
`;
}

/**
 * A private influxd 1.x (Debian's `influxdb` package) with its data under one directory,
 * on loopback ports: what the demo and the integration tests run. `start()` resolves
 * once GET /ping answers 204; it can be stopped and started again on the same data.
 */
export class LocalInfluxd {
  readonly url: string;
  /** What influxd printed, for diagnosing failures. */
  readonly output: string[] = [];
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly bin: string,
    readonly dir: string,
    readonly port: number,
    private readonly configPath: string,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  /**
   * Writes the config under `dir` (creating it) and starts influxd on `port` (or a free one).
   * `authEnabled`: `[http] auth-enabled = true`; influxd then takes one statement without
   * credentials, the `CREATE USER … WITH ALL PRIVILEGES` of the first admin.
   */
  static async start(bin: string, dir: string, port = 0, options: { authEnabled?: boolean } = {}): Promise<LocalInfluxd> {
    await mkdir(dir, { recursive: true });
    const httpPort = port || (await freePort());
    let rpcPort = await freePort();
    while (rpcPort === httpPort) rpcPort = await freePort();
    const configPath = join(dir, 'influxd.toml');
    await writeFile(configPath, configToml(dir, httpPort, rpcPort, options.authEnabled ?? false));
    const influxd = new LocalInfluxd(bin, dir, httpPort, configPath);
    await influxd.start();
    return influxd;
  }

  /** The process id while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts influxd (again) on the same dirs and port and waits until it answers /ping. */
  async start(): Promise<void> {
    if (this.child) throw new SluiceError('SLUICE_INFLUXD_RUNNING', `influxd is already running on ${this.url}`);
    const proc = spawn(this.bin, ['run', '-config', this.configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = proc;
    proc.stdout!.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    proc.stderr!.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    proc.once('error', (err) => this.output.push(`cannot run ${this.bin}: ${err.message}`));
    this.exited = new Promise((resolve) => proc.once('close', () => resolve()));
    void this.exited.then(() => {
      if (this.child === proc) this.child = undefined;
    });
    // Readiness probe: influxd opens its shards before it listens, ~0.2–2 s here.
    for (let attempt = 0; attempt < 400; attempt++) {
      if (proc.exitCode !== null || proc.signalCode !== null || this.child !== proc) break;
      const status = await fetch(`${this.url}/ping`).then((res) => res.status, () => 0);
      if (status === 204) return;
      await sleep(50);
    }
    await this.signal('SIGKILL');
    throw new SluiceError('SLUICE_INFLUXD_START_FAILED', `influxd (${this.bin}) did not answer ${this.url}/ping:\n${this.output.join('').slice(-2000)}`);
  }

  /** Sends `name` and waits for the process to exit. */
  async signal(name: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    if (!this.child) return;
    this.child.kill(name);
    await this.exited;
  }
}
