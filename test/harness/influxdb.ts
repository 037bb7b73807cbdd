/** A real InfluxDB 1.x (`influxd`) on free ports in its own temp dir, for integration tests. */
import { randomUUID } from 'node:crypto';
import { freePort as freeTcpPort, LocalInfluxd } from '../../cli/demo/local-influxd.js';
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
  /**
   * Runs one InfluxQL statement (epoch=ms) and returns the rows of every series it produced;
   * a SELECT is read again until two answers in a row agree (see `settledSelect`).
   */
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
  /** With `auth: true`: the admin user query() runs as. */
  admin?: { username: string; password: string };
}

export interface StartInfluxdOptions {
  /**
   * `[http] auth-enabled = true`, with an admin user (`admin`, a random password) that
   * query() runs as. Create other users with query(): `CREATE USER …`, `GRANT ALL ON …`.
   */
  auth?: boolean;
}

/**
 * A loopback port nobody listens on right now, for a server a test starts a moment later,
 * picked below Linux's ephemeral range (32768–60999). A port from bind(0) is an ephemeral
 * one, which another test's outgoing connection may take as its local port before the
 * server binds it: CI saw `sluice start` refuse such a port (SLUICE_PORT_IN_USE).
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if ((await freeTcpPort(port)) === port) return port;
  }
  return freeTcpPort();
}

/** Starts a fresh influxd 1.x in a temp dir; resolves once GET /ping answers 204. */
export async function startInfluxd(options: StartInfluxdOptions = {}): Promise<TestInfluxd> {
  const dir = await tempDir('sluice-influxd-');
  const influxd = await LocalInfluxd.start(INFLUXD_BIN, dir.path, 0, { authEnabled: options.auth ?? false });
  const url = influxd.url;
  const admin = options.auth ? { username: 'admin', password: randomUUID() } : undefined;
  const authorization = admin ? { authorization: `Basic ${Buffer.from(`${admin.username}:${admin.password}`).toString('base64')}` } : undefined;

  async function query(influxql: string, db?: string): Promise<InfluxRow[]> {
    return /^\s*select\b/i.test(influxql) ? settledSelect(() => queryOnce(influxql, db)) : queryOnce(influxql, db);
  }

  async function queryOnce(influxql: string, db?: string): Promise<InfluxRow[]> {
    const params = new URLSearchParams({ q: influxql, epoch: 'ms' });
    if (db !== undefined) params.set('db', db);
    // POST: InfluxDB 1.x refuses writes such as CREATE DATABASE over GET.
    const res = await fetch(`${url}/query`, { method: 'POST', body: params, headers: authorization });
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

  if (admin) {
    // With no user yet, influxd runs this one statement without credentials.
    const params = new URLSearchParams({ q: `CREATE USER "${admin.username}" WITH PASSWORD '${admin.password}' WITH ALL PRIVILEGES` });
    const res = await fetch(`${url}/query`, { method: 'POST', body: params });
    if (!res.ok) throw new Error(`cannot create the admin user on ${url}: ${res.status} ${await res.text()}`);
    // influxd may answer before its meta cache holds the user: until it does, it treats a
    // request as coming from nobody ("no user provided"), so wait for the admin to be known.
    for (let attempt = 0; ; attempt++) {
      try {
        await query('SHOW USERS');
        break;
      } catch (err) {
        if (attempt >= 50) throw err;
        await new Promise((resolve) => setTimeout(resolve, 20 * Math.min(attempt + 1, 10)));
      }
    }
  }

  return {
    url,
    admin,
    port: influxd.port,
    dataDir: dir.path,
    output: influxd.output,
    query,
    start: () => influxd.start(),
    stop: () => influxd.signal('SIGTERM'),
    kill: () => influxd.signal('SIGKILL'),
    destroy: async () => {
      await influxd.signal('SIGKILL');
      await dir.remove();
    },
  };
}

/**
 * influxd 1.x applies a write to its cache field by field, so a query racing the write can
 * see a point with only some of its fields (influxdata/influxdb#8546, "wontfix"). A test that
 * polls until n rows exist would then assert on a half-written row: read until two answers
 * in a row agree (a write still streaming in after 20 reads returns the last answer).
 */
export async function settledSelect<T>(read: () => Promise<T>): Promise<T> {
  let rows = await read();
  let seen = JSON.stringify(rows);
  for (let attempt = 0; attempt < 20; attempt++) {
    const again = await read();
    const seenAgain = JSON.stringify(again);
    if (seenAgain === seen) return again;
    rows = again;
    seen = seenAgain;
  }
  return rows;
}

interface QueryResponse {
  error?: string;
  results?: { error?: string; series?: { name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }[] }[];
}
