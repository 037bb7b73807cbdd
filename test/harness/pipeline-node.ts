import { onTestFailed } from 'vitest';
import { freePort, type InfluxRow, type TestInfluxd } from './influxdb.js';
import type { SluiceProcess } from './sluice-process.js';

/** The tumbling window the pipeline tests configure. */
export const WINDOW_MS = 5000;

/** `sluice start` arguments for a pipeline test: free ports, anonymous devices, short timers. */
export async function nodeArgs(dataDir: string, influx: TestInfluxd, db: string): Promise<string[]> {
  return [
    'start', '--data-dir', dataDir, '--mqtt-port', String(await freePort()), '--http-port', String(await freePort()),
    '--set', 'auth.mode=anonymous', '--set', 'mqtt.host=127.0.0.1', '--set', 'http.host=127.0.0.1',
    '--set', `influx.url=${influx.url}`, '--set', `influx.database=${db}`, '--set', 'influx.flushInterval=200ms',
    '--set', 'checkpoint.interval=300ms', '--set', 'time.idleTimeout=1s', '--set', 'time.maxOutOfOrderness=1s',
    '--set', 'limits.messagesPerSecond=0', '--set', 'limits.readingsPerSecond=0', '--set', 'limits.bytesPerSecond=0', '--set', 'decode.threads=1', '--set', `windows=[{name: level_5s, type: tumbling, size: ${WINDOW_MS}}]`,
  ];
}

/**
 * Polls InfluxDB until it holds `expected` points (windows close once the idle watermark
 * passes them) and two polls in a row agree: influxd 1.x applies a write to its cache field
 * by field, so a query racing the write can see a point with some of its fields.
 */
export async function waitForPoints(influx: TestInfluxd, db: string, expected: number): Promise<InfluxRow[]> {
  let rows: InfluxRow[] = [];
  let previous = '';
  for (let attempt = 0; attempt < 300; attempt++) {
    rows = await influx.query('SELECT * FROM level_5s', db).catch(() => []);
    const seen = JSON.stringify(rows);
    if (rows.length >= expected && seen === previous) return rows;
    previous = seen;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return rows;
}

/** One unlabelled metric's value from a node's /metrics (0 when absent). */
export async function scrapeMetric(httpPort: number, name: string): Promise<number> {
  // A fresh connection each time: a node woken from SIGSTOP closes its idle keep-alive sockets
  // at once (their timeout ran out while it was frozen), and a pooled one reused in that
  // instant is reset (ECONNRESET failed the cluster SIGSTOP test in CI once).
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`, { headers: { connection: 'close' } })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Kills the test's current node when the test ends, and prints its output if the test failed. */
export function watchNode(current: () => SluiceProcess, cleanups: (() => Promise<unknown>)[]): void {
  cleanups.push(async () => {
    const node = current();
    node.child.kill('SIGKILL');
    await node.exited;
  });
  onTestFailed(() => console.error(`sluice output:\n${current().output.slice(-40).join('\n')}`));
}

/** /readyz of a node: status and body. */
export async function readyz(httpPort: number): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
  return { status: res.status, body: await res.text() };
}

/** Polls `probe` every 20 ms until it returns true: for observations only HTTP can make, where there is no event to await. */
export async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<number> {
  const started = Date.now();
  while (!(await probe())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now() - started;
}
