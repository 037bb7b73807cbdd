/**
 * Retention policies per output (issue 17) against a real influxd 1.6: Sluice creates the
 * policies it is given, writes each output to its own, leaves the database's default alone,
 * and says what is missing when the user may not create one.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InfluxSink, InfluxWriter, influxConfigSchema, retentionRoute, type SinkPoint } from '../processors/sink/index.js';
import { startInfluxd, type TestInfluxd } from './harness/influxdb.js';
import { comparePoints, LockstepFleet } from './harness/lockstep-fleet.js';
import { nodeArgs, readyz, until, watchNode, WINDOW_MS } from './harness/pipeline-node.js';
import { spawnSluice } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

let influx: TestInfluxd;
let secured: TestInfluxd;
const writers: InfluxWriter[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  [influx, secured] = await Promise.all([startInfluxd(), startInfluxd({ auth: true })]);
});
afterEach(async () => {
  for (const writer of writers.splice(0)) writer.close();
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await Promise.all([influx?.destroy(), secured?.destroy()]);
});

/** Raw readings to `short` (1d), windows to `long` (INF), both created by Sluice; alerts and sluice_stats to the default. */
const SPLIT = {
  retentionPolicies: { raw: 'short', windows: 'long' },
  createRetentionPolicies: [{ name: 'short', duration: '1d' }, { name: 'long', duration: 'INF' }],
};

function setup(server: TestInfluxd, config: Record<string, unknown>, refusals: string[] = []) {
  const parsed = influxConfigSchema.parse({ url: server.url, maxRetryDelay: '200ms', ...config });
  const writer = new InfluxWriter(parsed, {
    onBadPoint: (line, message) => {
      throw new Error(`bad point ${line}: ${message}`);
    },
    minRetryDelay: 20,
    onRefusal: (err) => void (err && refusals.push(err.message)),
  });
  writers.push(writer);
  const sink = new InfluxSink({ writer, batchSize: parsed.batchSize, flushInterval: parsed.flushInterval, route: retentionRoute(parsed) });
  return { writer, sink };
}

const database = () => `rp_${randomUUID().replace(/-/g, '')}`;
// Inside the `short` policy's day, and in the same shard group for both.
const t0 = Math.floor((Date.now() - 60 * 60_000) / 10_000) * 10_000;
const POINTS: SinkPoint[] = [
  { measurement: 'readings', tags: { device: 'd1', metric: 'temp' }, fields: { value: 21.5 }, timeMs: t0 + 1_000 },
  { measurement: 'late_readings', tags: { device: 'd1', metric: 'temp' }, fields: { value: 19 }, timeMs: t0 - 600_000 },
  { measurement: 'telemetry_10s', tags: { device: 'd1', metric: 'temp' }, fields: { count: { int: 1 }, mean: 21.5 }, timeMs: t0 },
  { measurement: 'alerts', tags: { device: 'd1', rule: 'hot', severity: 'warning' }, fields: { state: 'firing', value: 21.5 }, timeMs: t0 + 1_000 },
];

/** How many points `measurement` holds in policy `rp` of `db` (a policy or measurement that is not there: 0). */
async function count(server: TestInfluxd, db: string, rp: string, measurement: string): Promise<number> {
  const rows = await server.query(`SELECT * FROM "${db}"."${rp}"."${measurement}"`, db);
  return rows.length;
}

describe('retention policies per output on influxd 1.6', () => {
  it('creates short (1d) and long (INF), writes raw readings to short and windows to long, and leaves autogen the default', async () => {
    const db = database();
    const { writer, sink } = setup(influx, { database: db, ...SPLIT });
    expect(await writer.ensureDatabase()).toEqual({ state: 'created' });
    expect(await writer.ensureRetentionPolicies()).toEqual([{ name: 'short', state: 'created' }, { name: 'long', state: 'created' }]);

    const policies = await influx.query(`SHOW RETENTION POLICIES ON "${db}"`);
    expect(policies.map(({ name, duration, replicaN, default: isDefault }) => ({ name, duration, replicaN, default: isDefault }))).toEqual([
      { name: 'autogen', duration: '0s', replicaN: 1, default: true },
      { name: 'short', duration: '24h0m0s', replicaN: 1, default: false },
      { name: 'long', duration: '0s', replicaN: 1, default: false },
    ]);

    for (const point of POINTS) sink.add(point);
    await sink.flush();
    const where = async (measurement: string) => ({
      autogen: await count(influx, db, 'autogen', measurement),
      short: await count(influx, db, 'short', measurement),
      long: await count(influx, db, 'long', measurement),
    });
    expect(await where('readings')).toEqual({ autogen: 0, short: 1, long: 0 });
    expect(await where('late_readings')).toEqual({ autogen: 0, short: 1, long: 0 });
    expect(await where('telemetry_10s')).toEqual({ autogen: 0, short: 0, long: 1 });
    expect(await where('alerts')).toEqual({ autogen: 1, short: 0, long: 0 });
    expect(await influx.query(`SELECT "value" FROM "${db}"."short"."readings"`, db)).toEqual([{ time: t0 + 1_000, value: 21.5 }]);

    // A superseded session point is deleted, and only it: the tag keys that keep a series
    // with one more tag at that time out of the DELETE are read from long, where it was written.
    sink.add({ ...POINTS[2]!, tags: { device: 'd1', metric: 'temp', site: 'north' } });
    await sink.flush();
    sink.delete({ measurement: 'telemetry_10s', tags: { device: 'd1', metric: 'temp' }, timeMs: t0 });
    await sink.flush();
    expect(await influx.query(`SELECT "mean", "site" FROM "${db}"."long"."telemetry_10s"`, db)).toEqual([{ time: t0, mean: 21.5, site: 'north' }]);
    expect(await where('readings')).toEqual({ autogen: 0, short: 1, long: 0 });
  });

  it('finds existing policies and never alters them, even when the definition differs', async () => {
    const db = database();
    await influx.query(`CREATE DATABASE "${db}"`);
    await influx.query(`CREATE RETENTION POLICY "short" ON "${db}" DURATION 2d REPLICATION 1`);
    const { writer } = setup(influx, { database: db, ...SPLIT });
    expect(await writer.ensureDatabase()).toEqual({ state: 'exists' });
    // Two processor threads start at once: the second CREATE of the same policy is harmless.
    const [first, second] = await Promise.all([writer.ensureRetentionPolicies(), setup(influx, { database: db, ...SPLIT }).writer.ensureRetentionPolicies()]);
    expect(first.find((rp) => rp.name === 'short')).toEqual({ name: 'short', state: 'exists' });
    expect(second.find((rp) => rp.name === 'short')).toEqual({ name: 'short', state: 'exists' });
    const policies = await influx.query(`SHOW RETENTION POLICIES ON "${db}"`);
    expect(policies.map(({ name, duration, default: isDefault }) => [name, duration, isDefault])).toEqual([
      ['autogen', '0s', true], ['short', '48h0m0s', false], ['long', '0s', false],
    ]);
  });

  it('as a user that is not an admin: says the policy is missing and who may create it, and the writes to it wait, refused, until an admin does', async () => {
    const db = database();
    await secured.query(`CREATE DATABASE "${db}"`);
    await secured.query(`CREATE USER "writer_${db}" WITH PASSWORD 'pw'`);
    await secured.query(`GRANT ALL ON "${db}" TO "writer_${db}"`);
    const refusals: string[] = [];
    const { writer, sink } = setup(secured, { database: db, username: `writer_${db}`, password: 'pw', ...SPLIT }, refusals);
    expect(await writer.ensureDatabase()).toEqual({ state: 'exists' });
    const states = await writer.ensureRetentionPolicies();
    expect(states.map((rp) => rp.state)).toEqual(['missing', 'missing']);
    expect(states[0]).toMatchObject({ name: 'short' });
    expect((states[0] as { reason: string }).reason).toBe(
      `retention policy short does not exist on database ${db} and influx.username writer_${db} may not create it (\`CREATE RETENTION POLICY "short" ON "${db}" DURATION 1d REPLICATION 1\` needs an admin): run it as an admin, or write this output to an existing policy`,
    );
    expect(await secured.query(`SHOW RETENTION POLICIES ON "${db}"`)).toHaveLength(1);

    sink.add(POINTS[0]!);
    const flushed = sink.flush();
    await expect.poll(() => refusals.length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(refusals[0]).toMatch(new RegExp(`retention policy short does not exist on database ${db}: create it as an admin .*influx\\.createRetentionPolicies`));
    await secured.query(`CREATE RETENTION POLICY "short" ON "${db}" DURATION 1d REPLICATION 1`);
    await flushed;
    expect(await count(secured, db, 'short', 'readings')).toBe(1);
  });
});

describe('sluice start with retention policies per output', () => {
  it('creates the policies and writes readings to short, windows and sluice_stats to long, nothing to autogen', { timeout: 120_000 }, async () => {
    const db = database();
    const dir = await tempDir();
    cleanups.push(() => dir.remove());
    const node = spawnSluice([
      ...(await nodeArgs(join(dir.path, 'data'), influx, db)),
      '--set', 'outputs.raw=true', '--set', 'stats.interval=300ms',
      '--set', 'influx.retentionPolicies.raw=short', '--set', 'influx.retentionPolicies.windows=long', '--set', 'influx.retentionPolicies.stats=long',
      '--set', 'influx.createRetentionPolicies=[{name: short, duration: 1d}, {name: long, duration: INF}]',
    ]);
    watchNode(() => node, cleanups);
    const { mqtt } = await node.ready;
    const base = Math.floor((Date.now() - 20 * 60_000) / WINDOW_MS) * WINDOW_MS;
    const fleet = new LockstepFleet(Array.from({ length: 3 }, (_, i) => `${db}-dev-${i}`), base);
    await fleet.connect(`mqtt://127.0.0.1:${mqtt}`);
    cleanups.push(() => fleet.close());
    await fleet.run(20, 10);
    const expected = fleet.expected(20, WINDOW_MS);
    const rows = (rp: string, m: string) => influx.query(`SELECT * FROM "${db}"."${rp}"."${m}"`, db).catch(() => []);
    await until('every window point in long', async () => (await rows('long', 'level_5s')).length >= expected.size);
    await until('sluice_stats in long', async () => (await rows('long', 'sluice_stats')).length > 0);
    // One point per reading: every device's 20 batches of readingsPerBatch.
    const readingCount = fleet.ids.length * 20 * fleet.readingsPerBatch;
    await until('every raw reading in short', async () => (await rows('short', 'readings')).length >= readingCount);
    expect(comparePoints(await rows('long', 'level_5s'), expected)).toEqual({ missing: [], extra: [], mismatched: [] });
    const readings = await rows('short', 'readings');
    expect(readings).toHaveLength(readingCount);
    expect(new Set(readings.map((r) => r.device))).toEqual(new Set(fleet.ids));
    for (const [rp, m] of [['autogen', 'level_5s'], ['short', 'level_5s'], ['autogen', 'readings'], ['long', 'readings'], ['autogen', 'sluice_stats'], ['short', 'sluice_stats']] as const) {
      expect(await rows(rp, m), `${m} in ${rp}`).toEqual([]);
    }
    const policies = await influx.query(`SHOW RETENTION POLICIES ON "${db}"`);
    expect(policies.map(({ name, duration, default: isDefault }) => [name, duration, isDefault])).toEqual([
      ['autogen', '0s', true], ['short', '24h0m0s', false], ['long', '0s', false],
    ]);
    expect(node.output.join('\n')).toMatch(/created retention policy short/);
  });

  it('as a user that is not an admin: logs the policy it may not create and the statement to run, not ready until an admin runs it', { timeout: 120_000 }, async () => {
    const db = database();
    const user = `writer_${db}`;
    await secured.query(`CREATE DATABASE "${db}"`);
    await secured.query(`CREATE USER "${user}" WITH PASSWORD 'pw'`);
    await secured.query(`GRANT ALL ON "${db}" TO "${user}"`);
    const dir = await tempDir();
    cleanups.push(() => dir.remove());
    const node = spawnSluice([
      ...(await nodeArgs(join(dir.path, 'data'), secured, db)),
      '--set', `influx.username=${user}`, '--set', 'influx.password=pw', '--set', 'influx.maxRetryDelay=300ms', '--set', 'stats.enabled=false',
      '--set', 'influx.retentionPolicies.windows=long',
      '--set', 'influx.createRetentionPolicies=[{name: long, duration: INF}]',
    ]);
    watchNode(() => node, cleanups);
    const { mqtt, http } = await node.ready;
    const statement = `CREATE RETENTION POLICY "long" ON "${db}" DURATION INF REPLICATION 1`;
    const logged = (): string[] => node.output.flatMap((line) => (line.startsWith('{') ? [String((JSON.parse(line) as { msg?: unknown }).msg)] : []));
    await until('the refusal logged', () => Promise.resolve(logged().includes(
      `InfluxDB: retention policy long does not exist on database ${db} and influx.username ${user} may not create it (\`${statement}\` needs an admin): run it as an admin, or write this output to an existing policy`,
    )));
    const base = Math.floor((Date.now() - 20 * 60_000) / WINDOW_MS) * WINDOW_MS;
    const fleet = new LockstepFleet([`${db}-dev-0`], base);
    await fleet.connect(`mqtt://127.0.0.1:${mqtt}`);
    cleanups.push(() => fleet.close());
    await fleet.run(10, 10);
    await until('not ready, saying which policy is missing', async () => {
      const { status, body } = await readyz(http);
      return status === 503 && body.includes('retention policy long does not exist');
    });
    await secured.query(statement);
    const expected = fleet.expected(10, WINDOW_MS);
    await until('the windows written to long once it exists', async () => (await secured.query(`SELECT * FROM "${db}"."long"."level_5s"`, db)).length >= expected.size);
    expect(comparePoints(await secured.query(`SELECT * FROM "${db}"."long"."level_5s"`, db), expected)).toEqual({ missing: [], extra: [], mismatched: [] });
    await until('ready again', async () => (await readyz(http)).status === 200);
  });
});
