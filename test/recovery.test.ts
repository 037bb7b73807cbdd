import { readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readBundleIndex } from '../processors/checkpoint/checkpoint-catalog.js';
import { keyGroupOf } from '../routing/index.js';
import { FloodDevice } from './harness/flood-device.js';
import { startInfluxd } from './harness/influxdb.js';
import { comparePoints, LockstepFleet } from './harness/lockstep-fleet.js';
import { nodeArgs, scrapeMetric as metric, waitForPoints, watchNode, WINDOW_MS } from './harness/pipeline-node.js';
import { spawnSluice, type SluiceProcess } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const base = (): number => Math.floor((Date.now() - 20 * 60_000) / WINDOW_MS) * WINDOW_MS;

describe('recovery', () => {
  it('falls back past a corrupt newest checkpoint (flipped byte, truncated) and stays exact', { timeout: 180_000 }, async () => {
    const influx = await startInfluxd();
    cleanups.push(() => influx.destroy());
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const args = await nodeArgs(dir.path, influx, 'corrupt');
    let node: SluiceProcess = spawnSluice(args);
    watchNode(() => node, cleanups);
    const { mqtt } = await node.ready;
    const fleet = new LockstepFleet(Array.from({ length: 6 }, (_, i) => `ckpt-dev-${i}`), base());
    await fleet.connect(`mqtt://127.0.0.1:${mqtt}`);
    cleanups.push(() => fleet.close());
    await fleet.run(40, 20, 5);
    node.child.kill('SIGTERM');
    const stopped = await Promise.race([node.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 20_000))]);
    expect(stopped, node.output.slice(-30).join('\n')).toBe(0);

    // Damage the newest checkpoint of every partition: each processor thread's newest bundle.
    // In the first, flip a byte in every partition's section (each fails on its own); cut
    // the others short (their index goes, so the whole bundle fails, reported once).
    const root = join(dir.path, 'checkpoints');
    const newest = new Map<string, string>();
    for (const name of (await readdir(root)).filter((n) => n.endsWith('.bundle')).sort()) newest.set(name.split('.')[1]!, join(root, name));
    let damaged = 0;
    for (const [i, bundle] of [...newest.values()].entries()) {
      if (i === 0) {
        const bytes = await readFile(bundle);
        for (const section of await readBundleIndex(bundle)) {
          bytes[section.position + section.length - 2]! ^= 0x5a;
          damaged++;
        }
        await writeFile(bundle, bytes);
      } else {
        await truncate(bundle, 20);
        damaged++;
      }
    }
    expect(damaged).toBeGreaterThan(0);

    node = spawnSluice(args);
    const { http } = await node.ready;
    expect(await metric(http, 'sluice_processor_checkpoint_fallbacks_total')).toBe(damaged);
    await fleet.run(80, 10, 5, 40);
    const expected = fleet.expected(80, WINDOW_MS);
    const diff = comparePoints(await waitForPoints(influx, 'corrupt', expected.size), expected);
    expect(diff).toEqual({ missing: [], extra: [], mismatched: [] });
  });

  it('starts without InfluxDB, takes data meanwhile, and writes it all once InfluxDB appears', { timeout: 180_000 }, async () => {
    const influx = await startInfluxd();
    cleanups.push(() => influx.destroy());
    await influx.stop();
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const node = spawnSluice(await nodeArgs(dir.path, influx, 'late_start'));
    watchNode(() => node, cleanups);
    const { mqtt } = await node.ready;
    const fleet = new LockstepFleet(Array.from({ length: 4 }, (_, i) => `late-dev-${i}`), base());
    await fleet.connect(`mqtt://127.0.0.1:${mqtt}`);
    cleanups.push(() => fleet.close());
    await fleet.run(30, 10);
    await influx.start();
    const expected = fleet.expected(30, WINDOW_MS);
    const diff = comparePoints(await waitForPoints(influx, 'late_start', expected.size), expected);
    expect(diff).toEqual({ missing: [], extra: [], mismatched: [] });
  });

  it('stops on SIGTERM while InfluxDB is down, and a restart writes everything', { timeout: 180_000 }, async () => {
    const influx = await startInfluxd();
    cleanups.push(() => influx.destroy());
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const args = await nodeArgs(dir.path, influx, 'stop_down');
    let node = spawnSluice(args);
    watchNode(() => node, cleanups);
    const { mqtt } = await node.ready;
    const fleet = new LockstepFleet(Array.from({ length: 4 }, (_, i) => `stop-dev-${i}`), base());
    await fleet.connect(`mqtt://127.0.0.1:${mqtt}`);
    cleanups.push(() => fleet.close());
    await fleet.run(20, 10);
    await influx.stop();
    await fleet.run(40, 10, 0, 20);
    node.child.kill('SIGTERM');
    expect(await node.exited).toBe(0);
    await influx.start();
    node = spawnSluice(args);
    await node.ready;
    await fleet.run(50, 10, 0, 40);
    const expected = fleet.expected(50, WINDOW_MS);
    const diff = comparePoints(await waitForPoints(influx, 'stop_down', expected.size), expected);
    expect(diff).toEqual({ missing: [], extra: [], mismatched: [] });
  });

  it('loses nothing when InfluxDB is down for 30 s under load, with a device sending its backlog meanwhile, and resumes where it stopped', { timeout: 180_000 }, async () => {
    const influx = await startInfluxd();
    cleanups.push(() => influx.destroy());
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const node = spawnSluice(await nodeArgs(dir.path, influx, 'outage'));
    watchNode(() => node, cleanups);
    const { mqtt, http } = await node.ready;
    const fleet = new LockstepFleet(Array.from({ length: 6 }, (_, i) => `outage-dev-${i}`), base());
    await fleet.connect(`mqtt://127.0.0.1:${mqtt}`);
    cleanups.push(() => fleet.close());
    // A device back from its own outage, in a partition of the fleet's: its first 20 s at
    // once, then its buffered 60 s while InfluxDB is down (the partition ~100 s on by then).
    let r = 0;
    while (keyGroupOf(`outage-returning-${r}`, 64) !== keyGroupOf(fleet.ids[0]!, 64)) r++;
    const returning = new FloodDevice(`outage-returning-${r}`, { baseMs: fleet.baseMs, stepMs: 1_000 });
    await returning.connect(`mqtt://127.0.0.1:${mqtt}`);
    cleanups.push(() => returning.close());
    returning.burst(20);
    await returning.drained();
    const ROUNDS = 400;
    const publishing = fleet.run(ROUNDS, 90);
    while (fleet.rounds < 40) await new Promise((resolve) => setTimeout(resolve, 20));
    await influx.stop();
    const stoppedAtRound = fleet.rounds;
    while (fleet.rounds < 100) await new Promise((resolve) => setTimeout(resolve, 20));
    returning.burst(60);
    await returning.drained(); // PUBACKed while InfluxDB is down: the log holds the backlog
    await new Promise((resolve) => setTimeout(resolve, 30_000)); // the outage itself
    // The gateway kept taking data (PUBACKs kept coming) while the sink retried.
    expect(fleet.rounds).toBeGreaterThan(stoppedAtRound + 100);
    expect(await metric(http, 'sluice_processor_sink_retries_total')).toBeGreaterThan(0);
    await influx.start();
    await publishing;
    const expected = returning.expected(WINDOW_MS, fleet.expected(ROUNDS, WINDOW_MS));
    const diff = comparePoints(await waitForPoints(influx, 'outage', expected.size), expected);
    expect(diff).toEqual({ missing: [], extra: [], mismatched: [] });
  });
});
