import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startInfluxd, type TestInfluxd } from './harness/influxdb.js';
import { comparePoints, LockstepFleet } from './harness/lockstep-fleet.js';
import { nodeArgs, waitForPoints, watchNode, WINDOW_MS } from './harness/pipeline-node.js';
import { canMount, mountSmallDisk, type SmallDisk } from './harness/small-disk.js';
import { spawnSluice, type SluiceProcess } from './harness/sluice-process.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const base = (): number => Math.floor((Date.now() - 20 * 60_000) / WINDOW_MS) * WINDOW_MS;

if (!canMount) console.warn('storage-errors.test.ts skipped: it mounts a small tmpfs, which needs root (CI runs as root)');

/** /readyz of a node: status and body. */
async function readyz(http: number): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${http}/readyz`);
  return { status: res.status, body: await res.text() };
}

/**
 * Polls `probe` every 20 ms until it returns true; the observations are external (HTTP), so
 * there is no event to await. On a timeout the error's one line says what the node was
 * doing (`state`): CI shows that line, not the node's output.
 */
async function until(what: string, probe: () => Promise<boolean>, state?: () => Promise<string>, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  // A probe that fails (a keep-alive socket the endpoint closed as it was reused) is just not true yet.
  while (!(await probe().catch(() => false))) {
    if (Date.now() - started > timeoutMs) {
      const seen = state ? await state().catch((err: unknown) => `state unknown: ${(err as Error).message}`) : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${seen && `; ${seen}`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now() - started;
}

/** One line on a node for a timeout's message: exited or not, /readyz, and the metrics that say whether it checkpoints and writes. */
async function nodeState(node: SluiceProcess, http: number): Promise<string> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) {
    return `the node exited (${node.child.exitCode ?? node.child.signalCode}); its last lines: ${node.output.slice(-5).join(' | ')}`;
  }
  const ready = await readyz(http);
  const metrics = (await (await fetch(`http://127.0.0.1:${http}/metrics`)).text()).split('\n');
  const wanted = /^sluice_(storage_errors_total|processor_checkpoint_seconds_count|processor_sink_retries_total|processor_messages_total)/;
  const lag = metrics.filter((l) => l.startsWith('sluice_processor_lag_records{')).reduce((sum, l) => sum + Number(l.split(' ')[1]), 0);
  return `/readyz ${ready.status} ${ready.body.trim()}; ${metrics.filter((l) => wanted.test(l)).join(', ')}, lag ${lag} records`;
}

/** One labelled sample of `sluice_storage_errors_total` (0 when absent). */
async function storageErrors(http: number, component: string, code: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`sluice_storage_errors_total{component="${component}",code="${code}"}`));
  return line ? Number(line.split(' ')[1]) : 0;
}

interface Setup {
  disk: SmallDisk;
  influx: TestInfluxd;
  args: string[];
  node: SluiceProcess;
  http: number;
  fleet: LockstepFleet;
  /** PUBACK packets the fleet received so far. */
  pubacks: () => number;
}

async function setUp(db: string, devices: number): Promise<Setup> {
  const disk = await mountSmallDisk(24);
  cleanups.push(() => disk.remove());
  const influx = await startInfluxd();
  cleanups.push(() => influx.destroy());
  const args = await nodeArgs(join(disk.path, 'data'), influx, db);
  const setup = { disk, influx, args } as Setup;
  setup.node = spawnSluice(args);
  watchNode(() => setup.node, cleanups);
  const { mqtt, http } = await setup.node.ready;
  setup.http = http;
  setup.fleet = new LockstepFleet(Array.from({ length: devices }, (_, i) => `${db}-dev-${i}`), base());
  await setup.fleet.connect(`mqtt://127.0.0.1:${mqtt}`);
  cleanups.push(() => setup.fleet.close());
  let pubacks = 0;
  for (const client of setup.fleet.clients) client.on('packetreceive', (packet) => void (packet.cmd === 'puback' && pubacks++));
  setup.pubacks = () => pubacks;
  return setup;
}

/**
 * Publishing goes on while the disk is full: the node must stay up, say 503 with the
 * reason, acknowledge nothing, and once space returns, resume by itself and end exact.
 */
async function fillThenFree(s: Setup, db: string): Promise<void> {
  const code = 'ENOSPC';
  await s.fleet.run(10, 20);
  expect((await readyz(s.http)).status).toBe(200);
  await s.disk.fill();
  const during = s.fleet.run(30, 0, 0, 10);
  during.catch(() => undefined); // awaited below; a rejection before then must not go unhandled
  await until(`the log to report ${code}`, async () => (await storageErrors(s.http, 'log', code)) > 0, () => nodeState(s.node, s.http));
  const notReady = await readyz(s.http);
  expect(notReady.status).toBe(503);
  expect(notReady.body).toContain(`log ${code}`);
  // The publishes keep coming (and are re-sent every 3 s); none may be acknowledged while nothing is durable.
  // An absence can only be watched for a while: 4 s spans a re-send and several retries of the log.
  const acked = s.pubacks();
  const rounds = s.fleet.rounds;
  await new Promise((resolve) => setTimeout(resolve, 4000));
  expect(s.pubacks(), 'PUBACKs sent while the log could not write').toBe(acked);
  expect(s.fleet.rounds).toBe(rounds);
  expect(s.node.child.exitCode, 'the node exited during the episode').toBeNull();
  expect((await readyz(s.http)).status).toBe(503);
  expect((await fetch(`http://127.0.0.1:${s.http}/healthz`)).status).toBe(200);

  const healed = Date.now();
  await s.disk.free();
  const pubackMs = await until('a PUBACK after the storage came back', async () => s.pubacks() > acked, () => nodeState(s.node, s.http));
  await until('/readyz 200 after the storage came back', async () => (await readyz(s.http)).status === 200, () => nodeState(s.node, s.http));
  const resumeMs = Date.now() - healed;
  console.log(`disk full: first PUBACK ${pubackMs} ms, /readyz 200 ${resumeMs} ms after the storage came back`);
  await during;
  await s.fleet.run(40, 10, 0, 30);
  expect(s.node.child.exitCode).toBeNull();
  const expected = s.fleet.expected(40, WINDOW_MS);
  const diff = comparePoints(await waitForPoints(s.influx, db, expected.size), expected);
  expect(diff).toEqual({ missing: [], extra: [], mismatched: [] });
}

describe.skipIf(!canMount)('storage errors', () => {
  it('waits out a full disk: stays up, 503 with the reason, no PUBACK until durable, resumes by itself, exact', { timeout: 240_000 }, async () => {
    const s = await setUp('disk_full', 6);
    await fillThenFree(s, 'disk_full');
    expect(await storageErrors(s.http, 'checkpoint', 'ENOSPC')).toBeGreaterThan(0);
  });

  it('waits out a read-only dataDir, while running and at the start, and resumes after read-write, exact', { timeout: 240_000 }, async () => {
    const s = await setUp('read_only', 6);
    const dataDir = join(s.disk.path, 'data');
    await s.fleet.run(10, 20);
    // Running: new files (checkpoints) are refused; the log's open segment still takes appends.
    await s.disk.overmountReadOnly(dataDir);
    const during = s.fleet.run(20, 20, 0, 10);
    during.catch(() => undefined);
    await until('checkpoints to report EROFS', async () => (await storageErrors(s.http, 'checkpoint', 'EROFS')) > 0, () => nodeState(s.node, s.http));
    const notReady = await readyz(s.http);
    expect(notReady.status).toBe(503);
    expect(notReady.body).toMatch(/checkpoint \(processor thread \d+\) EROFS/);
    await during;
    expect(s.node.child.exitCode, 'the node exited while its dataDir was read-only').toBeNull();
    await s.disk.removeOvermount(dataDir);
    const resumeMs = await until('/readyz 200 after the read-only overmount went', async () => (await readyz(s.http)).status === 200, () => nodeState(s.node, s.http));
    console.log(`read-only while running: /readyz 200 again ${resumeMs} ms after it became writable`);

    // At the start: a crash, then the whole filesystem read-only; the start waits instead of exiting.
    s.node.child.kill('SIGKILL');
    await s.node.exited;
    await s.disk.readOnly();
    s.node = spawnSluice(s.args);
    s.node.ready.catch(() => undefined); // awaited once the log can open
    const http = Number(s.args[s.args.indexOf('--http-port') + 1]);
    await until('/readyz to answer 503 while the log cannot open', async () => {
      const r = await readyz(http).catch(() => undefined);
      return r?.status === 503 && r.body.includes('log EROFS');
    }, () => nodeState(s.node, http));
    expect(s.node.child.exitCode).toBeNull();
    const writable = Date.now();
    await s.disk.readWrite();
    await s.node.ready;
    await until('/readyz 200 after the remount read-write', async () => (await readyz(http)).status === 200, () => nodeState(s.node, http));
    const startMs = Date.now() - writable;
    console.log(`read-only at the start: /readyz 200 ${startMs} ms after the remount read-write`);
    await s.fleet.run(30, 10, 0, 20);
    const expected = s.fleet.expected(30, WINDOW_MS);
    const diff = comparePoints(await waitForPoints(s.influx, 'read_only', expected.size), expected);
    expect(diff).toEqual({ missing: [], extra: [], mismatched: [] });
  });

  it('starts on a full disk after a crash, waits not ready, and goes on once space returns', { timeout: 240_000 }, async () => {
    const s = await setUp('full_start', 4);
    await s.fleet.run(10, 20);
    s.node.child.kill('SIGKILL');
    await s.node.exited;
    await s.disk.fill();
    s.node = spawnSluice(s.args);
    const { http } = await s.node.ready;
    const notReady = await readyz(http);
    expect(notReady.status, notReady.body).toBe(503);
    expect(notReady.body).toContain('ENOSPC');
    expect(s.node.child.exitCode).toBeNull();
    await s.disk.free();
    const resumeMs = await until('/readyz 200 after space returned', async () => (await readyz(http)).status === 200, () => nodeState(s.node, http));
    console.log(`start on a full disk: /readyz 200 ${resumeMs} ms after the filler was deleted`);
    await s.fleet.run(20, 10, 0, 10);
    const expected = s.fleet.expected(20, WINDOW_MS);
    const diff = comparePoints(await waitForPoints(s.influx, 'full_start', expected.size), expected);
    expect(diff).toEqual({ missing: [], extra: [], mismatched: [] });
  });
});
