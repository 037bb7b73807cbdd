import { afterEach, describe, expect, it } from 'vitest';
import { keyGroupOf } from '../routing/index.js';
import { FloodDevice } from './harness/flood-device.js';
import { startInfluxd } from './harness/influxdb.js';
import { nodeArgs, waitForPoints, watchNode, WINDOW_MS } from './harness/pipeline-node.js';
import { comparePoints, LockstepFleet } from './harness/lockstep-fleet.js';
import { spawnSluice, type SluiceProcess } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('exactly-once into InfluxDB', () => {
  it('survives three kill -9 of sluice start under load, with re-sent batches, a device without an in-flight window and one sending its backlog after an outage: every point exact, none missing, none extra', { timeout: 180_000 }, async () => {
    const influx = await startInfluxd();
    cleanups.push(() => influx.destroy());
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const db = 'crashes';
    // Small micro-batches on two decode threads complete out of order.
    const args = [...(await nodeArgs(dir.path, influx, db)), '--set', 'decode.threads=2', '--set', 'ingest.batchMaxMessages=32'];
    let node: SluiceProcess = spawnSluice(args);
    watchNode(() => node, cleanups);
    const { mqtt } = await node.ready;

    const fleet = new LockstepFleet(Array.from({ length: 8 }, (_, i) => `crash-dev-${i}`), Math.floor((Date.now() - 20 * 60_000) / WINDOW_MS) * WINDOW_MS);
    await fleet.connect(`mqtt://127.0.0.1:${mqtt}`);
    cleanups.push(() => fleet.close());
    const ROUNDS = 120;
    const publishing = fleet.run(ROUNDS, 30, 7);
    // A device that never waits for PUBACKs: 12 bursts of 100 messages, one every 10 rounds,
    // in a partition of its own so that its event time cannot make the fleet's readings late.
    const fleetPartitions = new Set(fleet.ids.map((id) => keyGroupOf(id, 64)));
    let f = 0;
    while (fleetPartitions.has(keyGroupOf(`crash-flood-${f}`, 64))) f++;
    const flood = new FloodDevice(`crash-flood-${f}`, { baseMs: fleet.baseMs });
    await flood.connect(`mqtt://127.0.0.1:${mqtt}`);
    cleanups.push(() => flood.close());
    const flooding = (async () => {
      for (let b = 0; b < 12; b++) {
        while (fleet.rounds < b * 10) await new Promise((resolve) => setTimeout(resolve, 10));
        flood.burst(100);
      }
      await flood.drained();
    })();

    // A device back from an outage, in a partition of the fleet's: its first 20 s at once,
    // then nothing until round 70 (the partition 70 s on), then its buffered 50 s.
    let r = 0;
    while (keyGroupOf(`crash-returning-${r}`, 64) !== keyGroupOf(fleet.ids[0]!, 64)) r++;
    const returning = new FloodDevice(`crash-returning-${r}`, { baseMs: fleet.baseMs, stepMs: 1_000 });
    await returning.connect(`mqtt://127.0.0.1:${mqtt}`);
    cleanups.push(() => returning.close());
    const returningDone = (async () => {
      returning.burst(20);
      while (fleet.rounds < 70) await new Promise((resolve) => setTimeout(resolve, 10));
      returning.burst(50);
      await returning.drained();
    })();
    // Kill at pseudo-random rounds; a 300 ms checkpoint interval makes some kills land mid-checkpoint.
    const seed = Date.now() % 1000;
    const killAt = [0.2, 0.45, 0.7].map((f, k) => Math.floor(ROUNDS * f + ((seed * (k + 3)) % 10)));
    for (const round of killAt) {
      while (fleet.rounds < round) await new Promise((resolve) => setTimeout(resolve, 10));
      node.child.kill('SIGKILL');
      await node.exited;
      node = spawnSluice(args);
      await node.ready;
    }
    await Promise.all([publishing, flooding, returningDone]);

    const expected = returning.expected(WINDOW_MS, flood.expected(WINDOW_MS, fleet.expected(ROUNDS, WINDOW_MS)));
    const rows = await waitForPoints(influx, db, expected.size);
    const diff = comparePoints(rows, expected);
    expect({ seed, killAt, ...diff }).toEqual({ seed, killAt, missing: [], extra: [], mismatched: [] });
  });
});
