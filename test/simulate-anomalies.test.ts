/**
 * End to end: `sluice simulate --anomalies --verify` through a real `sluice start` with
 * rules.file = rules.example.yaml into a real influxd. The episodes make each of the four
 * rules fire and resolve; verify must find the window points and every alert transition
 * exactly, then name an alert point taken away from InfluxDB.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { SimulationReport } from '../simulator/index.js';
import { freePort, startInfluxd, type TestInfluxd } from './harness/influxdb.js';
import { watchNode } from './harness/pipeline-node.js';
import { SLUICE_BIN, spawnSluice, type SluiceProcess } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

const run = promisify(execFile);
const FLEET_KEY = 'anomalies-fleet-key-0123456789abc';
/** Overridable so the test can be shown to fail on a broken rules file (SLUICE_TEST_RULES=/path/to/other.yaml). */
const RULES = process.env.SLUICE_TEST_RULES ?? fileURLToPath(new URL('../rules.example.yaml', import.meta.url));

let influx: TestInfluxd;
let dir: Awaited<ReturnType<typeof tempDir>>;
const cleanups: (() => Promise<unknown>)[] = [];
beforeAll(async () => {
  influx = await startInfluxd();
  dir = await tempDir('sluice-anomalies-');
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await influx?.destroy();
  await dir?.remove();
});

interface VerifyJson {
  exact: boolean;
  measurements: { measurement: string; expected: number; found: number; missing: number; extra: number; mismatched: number }[];
  total: { missing: number; extra: number; mismatched: number };
  missing: { measurement: string; device: string; metric: string; time: number }[];
  alerts?: { expected: Record<string, { firing: number; resolved: number }> };
}

it('simulate --anomalies verifies windows and alerts exact, each rule of rules.example.yaml firing and resolving; a deleted alert is then missing', async () => {
  const configFile = join(dir.path, 'sluice.yaml');
  await writeFile(
    configFile,
    stringify({
      dataDir: join(dir.path, 'data'),
      mqtt: { host: '127.0.0.1', port: await freePort() },
      http: { host: '127.0.0.1', port: await freePort() },
      auth: { mode: 'token', fleetKey: FLEET_KEY },
      decode: { threads: 1 },
      processors: { threads: 1 },
      influx: { url: influx.url, database: 'anomalies', flushInterval: '200ms' },
      time: { maxOutOfOrderness: '1s', idleTimeout: '1s', allowedLateness: '10s' },
      checkpoint: { interval: '500ms' },
      rules: { file: RULES },
    }),
  );
  const node: SluiceProcess = spawnSluice(['start', '--config', configFile]);
  watchNode(() => node, cleanups);
  await node.ready;

  const report = join(dir.path, 'report.json');
  const simulate = await run(process.execPath, [
    SLUICE_BIN, 'simulate', '--config', configFile, '--devices', '20', '--rate', '1000', '--batch', '10', '--duration', '4s', '--seed', '7',
    '--disorder', '0.1', '--max-delay', '800ms', '--duplicates', '0.05', '--anomalies', '--report', report, '--verify', '--no-progress',
  ]).catch((err: { stdout: string; stderr: string; code: number }) => err);
  expect(simulate.stdout, simulate.stderr).toMatch(/^verify: exact \(\d+ points\)$/m);
  expect('code' in simulate ? simulate.code : 0).toBe(0);

  const r = JSON.parse(await readFile(report, 'utf8')) as SimulationReport;
  const alerts = r.expected.alerts!;
  const byRule = (rule: string): string[] => alerts.filter((a) => a.rule === rule).map((a) => `${a.device.replace(/-[0-9a-z]+(-n\d+)?$/, '')} ${a.state}`);
  expect(byRule('overheating')).toEqual(['machine firing', 'machine resolved']);
  expect(byRule('pressure-drop')).toEqual(['pump firing', 'pump resolved']);
  expect(byRule('silent')).toEqual(['meter firing', 'meter resolved']);
  expect(byRule('door-open-then-warm')).toEqual(['coldroom firing', 'coldroom resolved']);

  const verify = async (): Promise<{ code: number; json: VerifyJson }> => {
    const out = await run(process.execPath, [SLUICE_BIN, 'verify', '--config', configFile, '--report', report, '--json']).catch((err: { stdout: string; code: number }) => err);
    return { code: 'code' in out ? out.code : 0, json: JSON.parse(out.stdout) as VerifyJson };
  };
  const exact = await verify();
  expect(exact.code).toBe(0);
  expect(exact.json.measurements.find((m) => m.measurement === 'alerts')).toEqual({ measurement: 'alerts', expected: 8, found: 8, missing: 0, extra: 0, mismatched: 0 });
  for (const rule of ['overheating', 'pressure-drop', 'silent', 'door-open-then-warm']) expect(exact.json.alerts!.expected[rule]).toEqual({ firing: 1, resolved: 1 });

  // Take the pressure drop's firing away from InfluxDB: verify names exactly that one and fails.
  const gone = alerts.find((a) => a.rule === 'pressure-drop' && a.state === 'firing')!;
  await influx.query(`DELETE FROM "alerts" WHERE "rule" = 'pressure-drop' AND "device" = '${gone.device}' AND time = ${gone.time}ms`, 'anomalies');
  const broken = await verify();
  expect(broken.code).toBe(1);
  expect(broken.json.total).toMatchObject({ missing: 1, extra: 0, mismatched: 0 });
  expect(broken.json.missing).toEqual([expect.objectContaining({ measurement: 'alerts', device: gone.device, metric: 'rule=pressure-drop state=firing', time: gone.time })]);
}, 90_000);
