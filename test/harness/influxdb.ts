/** A real InfluxDB 1.x (`influxd`) on free ports in its own temp dir, for integration tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir } from './temp-dir.js';

export const INFLUXD_BIN = process.env.SLUICE_TEST_INFLUXD ?? '/usr/bin/influxd';

/** One row of a query result: `time` (epoch ms) plus columns and the series' tags. */
export type InfluxRow = Record<string, unknown>;

export interface TestInfluxd {
  /** Base URL, e.g. http://127.0.0.1:41234. */
  url: string;
  port: number;
  /** Holds meta/, data/, wal/ and influxd.toml; survives stop()/kill(). */
  dataDir: string;
  /** Runs one InfluxQL statement (epoch=ms) and returns the rows of every series it produced. */
  query(influxql: string, db?: string): Promise<InfluxRow[]>;
  /** SIGTERM, then waits for the process to exit. */
  stop(): Promise<void>;
  /** SIGKILL, then waits for the process to exit (a crash: no clean shutdown). */
  kill(): Promise<void>;
  /** Starts influxd again on the same dirs and port and waits until it answers /ping. */
  start(): Promise<void>;
  /** Stops the process if it runs and removes the temp dir. */
  destroy(): Promise<void>;
  /** What influxd printed, for diagnosing failures. */
  output: string[];
}

/** A port nobody listens on right now: bind port 0, read it, release it. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP address for the probe server');
  return address.port;
}

function configToml(dir: string, httpPort: number, rpcPort: number): string {
  // Monitor store, continuous queries and query/meta logging are off: they write to disk
  // and to stderr in the background, which only slows and clutters tests.
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
[logging]
  level = "warn"
  suppress-logo = true
`;
}

/** Starts a fresh influxd 1.x; resolves once GET /ping answers 204. */
export async function startInfluxd(): Promise<TestInfluxd> {
  const dir = await tempDir('sluice-influxd-');
  const port = await freePort();
  let rpcPort = await freePort();
  while (rpcPort === port) rpcPort = await freePort();
  const configPath = join(dir.path, 'influxd.toml');
  await writeFile(configPath, configToml(dir.path, port, rpcPort));
  const url = `http://127.0.0.1:${port}`;
  const output: string[] = [];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  async function start(): Promise<void> {
    if (child) throw new Error('influxd is already running');
    const proc = spawn(INFLUXD_BIN, ['run', '-config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    proc.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    exited.then(() => {
      if (child === proc) child = undefined;
    });
    // Readiness probe: influxd opens its shards before it listens, ~0.2–2 s here.
    for (let attempt = 0; attempt < 200; attempt++) {
      if (proc.exitCode !== null || proc.signalCode !== null) break;
      const status = await fetch(`${url}/ping`).then((res) => res.status, () => 0);
      if (status === 204) return;
      await sleep(50);
    }
    await signal('SIGKILL');
    throw new Error(`influxd did not answer ${url}/ping:\n${output.join('')}`);
  }

  async function signal(name: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    if (!child) return;
    child.kill(name);
    await exited;
  }

  async function query(influxql: string, db?: string): Promise<InfluxRow[]> {
    const params = new URLSearchParams({ q: influxql, epoch: 'ms' });
    if (db !== undefined) params.set('db', db);
    // POST: InfluxDB 1.x refuses writes such as CREATE DATABASE over GET.
    const res = await fetch(`${url}/query`, { method: 'POST', body: params });
    const body = (await res.json()) as QueryResponse;
    const result = body.results?.[0];
    const error = body.error ?? result?.error;
    if (!res.ok || error !== undefined) throw new Error(`InfluxQL ${influxql} failed (${res.status}): ${error}`);
    return (result?.series ?? []).flatMap((series) =>
      series.values.map((values) => ({
        ...series.tags,
        ...Object.fromEntries(series.columns.map((column, i) => [column, values[i]])),
      })),
    );
  }

  await start();
  return {
    url,
    port,
    dataDir: dir.path,
    output,
    query,
    start,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    destroy: async () => {
      await signal('SIGKILL');
      await dir.remove();
    },
  };
}

interface QueryResponse {
  error?: string;
  results?: { error?: string; series?: { name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }[] }[];
}
