/**
 * `sluice start` against an influxd with authentication on, as users who are not admins:
 * one with ALL on its database (what a DBA hands out), one that may read but not write
 * until it is granted WRITE while Sluice runs.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startInfluxd, type TestInfluxd } from './harness/influxdb.js';
import { comparePoints, LockstepFleet } from './harness/lockstep-fleet.js';
import { nodeArgs, readyz, until, waitForPoints, watchNode, WINDOW_MS } from './harness/pipeline-node.js';
import { spawnSluice, type SluiceProcess } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const base = (): number => Math.floor((Date.now() - 20 * 60_000) / WINDOW_MS) * WINDOW_MS;

interface Setup {
  influx: TestInfluxd;
  node: SluiceProcess;
  http: number;
  fleet: LockstepFleet;
}

/** influxd with auth, database `db` made by the admin, `user` with `grant` on it, and `sluice start` as that user. */
async function setUp(db: string, user: string, grant: string): Promise<Setup> {
  const influx = await startInfluxd({ auth: true });
  cleanups.push(() => influx.destroy());
  await influx.query(`CREATE DATABASE "${db}"`);
  await influx.query(`CREATE USER "${user}" WITH PASSWORD 'pw-${user}'`);
  await influx.query(`GRANT ${grant} ON "${db}" TO "${user}"`);
  const dir = await tempDir();
  cleanups.push(() => dir.remove());
  const args = [
    ...(await nodeArgs(join(dir.path, 'data'), influx, db)),
    '--set', `influx.username=${user}`, '--set', `influx.password=pw-${user}`, '--set', 'influx.maxRetryDelay=500ms',
  ];
  const node = spawnSluice(args);
  watchNode(() => node, cleanups);
  const { mqtt, http } = await node.ready;
  const fleet = new LockstepFleet(Array.from({ length: 4 }, (_, i) => `${db}-dev-${i}`), base());
  await fleet.connect(`mqtt://127.0.0.1:${mqtt}`);
  cleanups.push(() => fleet.close());
  return { influx, node, http, fleet };
}

describe('InfluxDB users that are not admins', () => {
  it('sluice start as a user with ALL on its database (not admin) writes the exact window points and keeps running', { timeout: 120_000 }, async () => {
    const s = await setUp('nonadmin_all', 'writer', 'ALL');
    await s.fleet.run(20, 10);
    const expected = s.fleet.expected(20, WINDOW_MS);
    const diff = comparePoints(await waitForPoints(s.influx, 'nonadmin_all', expected.size), expected);
    expect(diff).toEqual({ missing: [], extra: [], mismatched: [] });
    expect(s.node.child.exitCode, 'sluice exited').toBeNull();
    expect((await readyz(s.http)).status).toBe(200);
    expect(s.node.output.join('\n')).not.toMatch(/fatal|exiting/);
  });

  it('a user without WRITE: stays up, /readyz 503 names the problem, and writes once GRANT WRITE is given, without a restart', { timeout: 120_000 }, async () => {
    const s = await setUp('nonadmin_read', 'reader', 'READ');
    await s.fleet.run(20, 10);
    await until('/readyz to say InfluxDB refuses writes', async () => (await readyz(s.http)).status === 503);
    const notReady = await readyz(s.http);
    expect(notReady.body).toContain('InfluxDB refuses writes');
    expect(notReady.body).toContain('influx.username reader may not write to database nonadmin_read');
    expect(notReady.body).toContain('GRANT WRITE ON "nonadmin_read" TO "reader"');
    expect(notReady.body.trim(), 'one line').not.toContain('\n');
    expect(await s.influx.query('SHOW MEASUREMENTS', 'nonadmin_read')).toEqual([]);
    expect(s.node.child.exitCode, 'sluice exited while InfluxDB refused its writes').toBeNull();

    await s.influx.query('GRANT WRITE ON "nonadmin_read" TO "reader"');
    await until('/readyz 200 after GRANT WRITE', async () => (await readyz(s.http)).status === 200);
    const expected = s.fleet.expected(20, WINDOW_MS);
    const diff = comparePoints(await waitForPoints(s.influx, 'nonadmin_read', expected.size), expected);
    expect(diff).toEqual({ missing: [], extra: [], mismatched: [] });
    expect(s.node.child.exitCode).toBeNull();
  });
});
