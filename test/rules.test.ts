/**
 * Issue 16: alert rules end to end — real MQTT devices, the processors, a real InfluxDB —
 * and rules changed while it runs: a rule removed resolves its firing alerts, one added
 * fires for windows that close after, and a broken file keeps the rules in force.
 */
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectDevice, encodeBatch } from './harness/devices.js';
import { startInfluxd, type InfluxRow, type TestInfluxd } from './harness/influxdb.js';
import { comparePoints, LockstepFleet } from './harness/lockstep-fleet.js';
import { nodeArgs, watchNode, WINDOW_MS } from './harness/pipeline-node.js';
import { spawnSluice, type SluiceProcess } from './harness/sluice-process.js';
import { startTestNode, testNodeConfig } from './harness/sluice-node.js';
import { tempDir } from './harness/temp-dir.js';

process.env.SLUICE_LOG_LEVEL ??= 'fatal';
const cleanups: (() => Promise<void>)[] = [];
let influx: TestInfluxd;
beforeAll(async () => {
  influx = await startInfluxd();
  cleanups.push(() => influx.destroy());
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const HOT = `
  - name: hot
    severity: critical
    description: mean above 80 for two windows
    threshold: { metric: temp, aggregate: mean, op: ">", value: 80, for: 2, clear: { op: "<", value: 75 } }`;
const COLD = `
  - name: cold
    severity: warning
    threshold: { metric: temp, aggregate: mean, op: "<", value: 10, for: 1 }`;

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let attempt = 0; attempt < 300; attempt++) {
    const found = await probe().catch(() => undefined);
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

it('writes alert transitions to InfluxDB and takes rule changes without a restart', { timeout: 120_000 }, async () => {
  const dir = await tempDir();
  cleanups.push(dir.remove);
  const rulesFile = join(dir.path, 'rules.yaml');
  await writeFile(rulesFile, `rules:${HOT}\n`);
  // The device rules, and every client may read alerts (otherwise the service role's).
  const aclFile = join(dir.path, 'acl.conf');
  await writeFile(aclFile, 'pattern write devices/%u/telemetry\ntopic read alerts/#\n');
  const db = `rules_${Date.now()}`;
  // The webhook receiver: it answers its first request 503, so that one is retried.
  const posted: { key: string | undefined; body: Record<string, unknown> }[] = [];
  let requests = 0;
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (requests++ === 0) return void res.writeHead(503).end();
      posted.push({ key: req.headers['idempotency-key'] as string | undefined, body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown> });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
  const config = await testNodeConfig(dir.path, influx.url, {
    'rules.webhook.url': `http://127.0.0.1:${(receiver.address() as { port: number }).port}/alerts`,
    'influx.database': db,
    'time.idleTimeout': '200ms',
    'time.maxOutOfOrderness': '1s',
    'checkpoint.interval': '500ms',
    'processors.threads': '1',
    'rules.file': rulesFile,
    'rules.debounce': '50ms',
    'acl.file': aclFile,
  });
  const node = await startTestNode(config);
  cleanups.push(() => node.stop());
  const watcher = await connectDevice(node.url, 'alert-watcher', undefined, { username: undefined });
  cleanups.push(() => watcher.endAsync());
  const heard: { topic: string; body: Record<string, unknown> }[] = [];
  watcher.on('message', (topic, payload) => heard.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown> }));
  await watcher.subscribeAsync('alerts/#', { qos: 1 });
  const reloads = async (result: 'ok' | 'invalid'): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${node.ports.http}/metrics`)).text();
    return Number(new RegExp(`^sluice_processor_rules_reloads_total\\{result="${result}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  };
  const alerts = (): Promise<InfluxRow[]> => influx.query(`SELECT * FROM "${db}"."autogen"."alerts"`);
  const alertsOf = async (device: string, n: number): Promise<InfluxRow[] | undefined> => {
    const rows = (await alerts()).filter((r) => r.device === device);
    return rows.length >= n ? rows : undefined;
  };

  // Each device sends whole 10 s windows a few minutes back, one mean each; the last one closes on the idle timeout.
  const base = Math.floor((Date.now() - 5 * 60_000) / 10_000) * 10_000;
  const send = async (id: string, means: number[], firstWindow = 0): Promise<void> => {
    const device = await connectDevice(node.url, id, undefined, { username: undefined });
    for (const [i, mean] of means.entries()) {
      const start = base + (firstWindow + i) * 10_000;
      const readings = [-1, 0, 1].map((d, k) => ({ metric: 'temp', timeUnixMs: start + 1_000 + k * 3_000, doubleValue: mean + d }));
      await device.publishAsync(`devices/${id}/telemetry`, encodeBatch({ seq: firstWindow + i + 1, readings }), { qos: 1 });
    }
    await device.endAsync();
  };

  // machine-1: 85, 90 (fires at the end of the second window), 70 (below 75: resolves at the end of the third).
  await send('machine-1', [85, 90, 70]);
  const first = await until('machine-1 firing and resolved', () => alertsOf('machine-1', 2));
  expect(first.map((r) => [r.state, (r.time as number) - base, r.rule, r.severity, r.value])).toEqual([
    ['firing', 20_000, 'hot', 'critical', 90],
    ['resolved', 30_000, 'hot', 'critical', 70],
  ]);
  expect(first[0]!.description).toBe('mean above 80 for two windows');
  expect(first[0]!.id).toMatch(/^[0-9a-f]{16}$/);
  // The same transitions over MQTT, with the same ids; a late subscriber gets the last state, retained.
  const mqttHeard = await until('machine-1 over MQTT', async () => (heard.filter((h) => h.topic === 'alerts/machine-1/hot').length >= 2 ? heard.filter((h) => h.topic === 'alerts/machine-1/hot') : undefined));
  expect(mqttHeard.map((h) => [h.body.state, h.body.id, h.body.timeMs])).toEqual(first.map((r) => [r.state, r.id, r.time]));
  // And POSTed to the webhook, the first after a 503 and a retry, each with its id as Idempotency-Key.
  const hooked = await until('machine-1 posted', async () => (posted.filter((p) => p.body.device === 'machine-1').length >= 2 ? posted.filter((p) => p.body.device === 'machine-1') : undefined));
  expect(hooked.map((p) => [p.key, p.body.id, p.body.state])).toEqual(first.map((r) => [r.id, r.id, r.state]));
  expect(requests).toBeGreaterThan(posted.length);
  const late = await connectDevice(node.url, 'late-watcher', undefined, { username: undefined });
  const retained = new Promise<Record<string, unknown>>((resolve) => late.on('message', (_t, payload) => resolve(JSON.parse(payload.toString()) as Record<string, unknown>)));
  await late.subscribeAsync('alerts/machine-1/hot', { qos: 1 });
  expect(await retained).toMatchObject({ rule: 'hot', device: 'machine-1', state: 'resolved', severity: 'critical', value: 70, threshold: 75 });
  await late.endAsync();

  // machine-2 is firing when the file changes: hot removed (its alert resolves), cold added.
  await send('machine-2', [85, 90]);
  await until('machine-2 firing', () => alertsOf('machine-2', 1));
  const okBefore = await reloads('ok');
  await writeFile(rulesFile, `rules:${COLD}\n`);
  await until('the watched file reloaded', async () => ((await reloads('ok')) > okBefore ? true : undefined));
  const removed = await until('machine-2 resolved by the removal', () => alertsOf('machine-2', 2));
  expect(removed.map((r) => [r.rule, r.state])).toEqual([
    ['hot', 'firing'],
    ['hot', 'resolved'],
  ]);
  // A window that closes after the change: cold fires for it.
  await send('machine-2', [5], 2);
  const cold = await until('machine-2 cold', async () => (await alertsOf('machine-2', 3))?.filter((r) => r.rule === 'cold'));
  expect(cold.map((r) => [r.state, (r.time as number) - base])).toEqual([['firing', 30_000]]);

  // A broken file (and a SIGHUP-style reload of it) changes nothing: cold still runs.
  const invalidBefore = await reloads('invalid');
  await writeFile(rulesFile, `rules:\n  - name: broken\n    severity: loud\n`);
  await until('the broken file refused', async () => ((await reloads('invalid')) > invalidBefore ? true : undefined));
  await node.reload();
  await until('the reload refused too', async () => ((await reloads('invalid')) > invalidBefore + 1 ? true : undefined));
  await send('machine-3', [4]);
  const still = await until('machine-3 cold', () => alertsOf('machine-3', 1));
  expect(still.map((r) => [r.rule, r.state, (r.time as number) - base])).toEqual([['cold', 'firing', 10_000]]);
  // No transition was written twice or lost: machine-1's two, machine-2's three, machine-3's one.
  expect((await alerts()).length).toBe(6);
});

it('survives three kill -9 of sluice start while alerts fire and resolve under load: every transition in InfluxDB once, none missing', { timeout: 180_000 }, async () => {
  const dir = await tempDir();
  cleanups.push(dir.remove);
  const rulesFile = join(dir.path, 'rules.yaml');
  // first = the window's earliest reading: exact, and it moves slowly with the fleet's sine.
  await writeFile(rulesFile, `rules:
  - name: high
    severity: warning
    threshold: { metric: level, aggregate: first, op: ">", value: 50, for: 2, clear: { op: "<", value: 0 } }
`);
  const db = 'alert_crashes';
  // A long idle timeout: every window then closes on its device's clock (event time), never
  // early on the idle one, so the reference below can say which result each window had.
  const args = [...(await nodeArgs(dir.path, influx, db)), '--set', `rules.file=${rulesFile}`, '--set', 'time.idleTimeout=10m'];
  // At info level: the harness waits for its 'sluice ready' line.
  const spawn = (): SluiceProcess => spawnSluice(args, { SLUICE_LOG_LEVEL: 'info' });
  let node = spawn();
  watchNode(() => node, cleanups);
  const { mqtt } = await node.ready;
  const fleet = new LockstepFleet(Array.from({ length: 8 }, (_, i) => `alert-dev-${i}`), Math.floor((Date.now() - 20 * 60_000) / WINDOW_MS) * WINDOW_MS);
  await fleet.connect(`mqtt://127.0.0.1:${mqtt}`);
  cleanups.push(() => fleet.close());
  const ROUNDS = 120;
  const publishing = fleet.run(ROUNDS, 30, 7);
  const seed = Date.now() % 1000;
  const killAt = [0.2, 0.45, 0.7].map((f, k) => Math.floor(ROUNDS * f + ((seed * (k + 3)) % 10)));
  for (const round of killAt) {
    while (fleet.rounds < round) await new Promise((resolve) => setTimeout(resolve, 10));
    node.child.kill('SIGKILL');
    await node.exited;
    node = spawn();
    await node.ready;
  }
  await publishing;

  // The reference, from the fleet's own values: window k of a device holds batches
  // 5k … 5k + 4 (10 readings 100 ms apart each); it closes once the device's clock (its
  // last reading − 1 s out-of-orderness) reaches its end.
  const batchesPerWindow = WINDOW_MS / (fleet.readingsPerBatch * fleet.stepMs);
  const lastTime = fleet.time(ROUNDS - 1, fleet.readingsPerBatch - 1);
  const closed = Math.floor((lastTime - 1_000 - fleet.baseMs) / WINDOW_MS);
  const expected: string[] = [];
  fleet.ids.forEach((id, d) => {
    let streak = 0;
    let firing = false;
    for (let k = 0; k < closed; k++) {
      const first = fleet.value(d, k * batchesPerWindow, 0);
      const end = fleet.baseMs + (k + 1) * WINDOW_MS;
      if (!firing) {
        streak = first > 50 ? streak + 1 : 0;
        if (streak >= 2) {
          firing = true;
          expected.push(`${id} firing ${end}`);
        }
      } else if (first < 0) {
        firing = false;
        streak = 0;
        expected.push(`${id} resolved ${end}`);
      }
    }
  });
  expect(expected.length).toBeGreaterThan(8);
  // Every closed window's point is in InfluxDB: the processors have handled each, alerts included (same flush).
  await until('the closed windows', async () => ((await influx.query('SELECT count("count") FROM level_5s', db))[0]?.count === fleet.ids.length * closed ? true : undefined));
  const rows = await until('the alerts', async () => {
    const r = await influx.query('SELECT * FROM alerts', db);
    return r.length >= expected.length ? r : undefined;
  });
  const found = rows.map((r) => `${r.device} ${r.state} ${r.time}`).sort();
  expect({ seed, killAt, found }).toEqual({ seed, killAt, found: [...expected].sort() });
});

it('takes a rules file change under load: window points stay exact, a removed rule resolves, a changed one starts over, an added one fires on windows closing after', { timeout: 180_000 }, async () => {
  const dir = await tempDir();
  cleanups.push(dir.remove);
  const rulesFile = join(dir.path, 'rules.yaml');
  const rule = (name: string, threshold: string): string => `  - { name: ${name}, severity: warning, threshold: { metric: level, aggregate: first, ${threshold} } }\n`;
  await writeFile(rulesFile, `rules:\n${rule('high', 'op: ">", value: 50, for: 2, clear: { op: "<", value: 0 }')}${rule('low', 'op: "<", value: -50, for: 1, clear: { op: ">", value: 0 }')}`);
  const db = 'alert_reload';
  const args = [...(await nodeArgs(dir.path, influx, db)), '--set', `rules.file=${rulesFile}`, '--set', 'rules.debounce=20ms'];
  const node = spawnSluice(args, { SLUICE_LOG_LEVEL: 'info' });
  watchNode(() => node, cleanups);
  const { mqtt, http } = await node.ready;
  const fleet = new LockstepFleet(Array.from({ length: 8 }, (_, i) => `reload-dev-${i}`), Math.floor((Date.now() - 20 * 60_000) / WINDOW_MS) * WINDOW_MS);
  await fleet.connect(`mqtt://127.0.0.1:${mqtt}`);
  cleanups.push(() => fleet.close());
  const ROUNDS = 120;
  const publishing = fleet.run(ROUNDS, 30, 7);
  const reloads = async (): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
    return Number(/^sluice_processor_rules_reloads_total\{result="ok"\} (\d+)/m.exec(text)?.[1] ?? 0);
  };

  // Mid-run: low removed, high changed (50 → 60), mid added.
  while (fleet.rounds < 40) await new Promise((resolve) => setTimeout(resolve, 10));
  const roundAtReload = fleet.rounds;
  // Per device, the last window already in InfluxDB: it closed, and its rules ran, before the change.
  const closedBefore = new Map((await influx.query('SELECT last("count") FROM level_5s GROUP BY "device"', db)).map((r) => [r.device as string, r.time as number]));
  expect(closedBefore.size).toBeGreaterThan(0);
  await writeFile(rulesFile, `rules:\n${rule('high', 'op: ">", value: 60, for: 2, clear: { op: "<", value: 0 }')}${rule('mid', 'op: ">", value: 0, for: 1, clear: { op: "<", value: 0 }')}`);
  // Each processor thread reloads and counts it.
  await until('the reload in every processor thread', async () => ((await reloads()) >= 2 ? true : undefined));
  await publishing;

  // Windows: exactly what the fleet sent, the reload notwithstanding.
  const expected = fleet.expected(ROUNDS, WINDOW_MS);
  const rows = await until('the window points', async () => {
    const r = await influx.query('SELECT * FROM level_5s', db);
    return r.length >= expected.size ? r : undefined; // the last windows close on the 1 s idle timeout
  });
  expect(comparePoints(rows, expected)).toEqual({ missing: [], extra: [], mismatched: [] });

  const alerts = await influx.query('SELECT * FROM alerts', db);
  const of = (name: string) => alerts.filter((a) => a.rule === name).sort((a, b) => (a.time as number) - (b.time as number));
  // low: whatever fired before the reload ends resolved (by the removal, if not before), and nothing after it.
  for (const id of fleet.ids) {
    const low = of('low').filter((a) => a.device === id);
    if (low.length > 0) expect(low[low.length - 1]!.state, `${id} low`).toBe('resolved');
    expect(low.filter((a) => a.state === 'firing').every((a) => (a.time as number) <= fleet.time(roundAtReload + 5, 0)), `${id} low fired after its removal`).toBe(true);
  }
  // mid: fires, and only on windows that closed after the change.
  const mid = of('mid');
  expect(mid.filter((a) => a.state === 'firing').length).toBeGreaterThan(0);
  // (Not a count of publishing rounds: under load the processors may be many rounds behind the publishers.)
  for (const a of mid) expect((a.time as number) > (closedBefore.get(a.device as string) ?? -Infinity), `mid fired for ${a.device} on a window closed before the change`).toBe(true);
  // Per (rule, device), transitions alternate firing/resolved: none repeated.
  for (const name of ['high', 'low', 'mid']) {
    for (const id of fleet.ids) {
      const states = of(name).filter((a) => a.device === id).map((a) => a.state);
      states.forEach((s, i) => expect(s, `${name} ${id} #${i}`).toBe(i % 2 === 0 ? 'firing' : 'resolved'));
    }
  }
});
