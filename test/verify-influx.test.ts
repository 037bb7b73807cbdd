/** `sluice verify` against a real influxd 1.6: exact, then one point deleted, one changed and one added; the CLI's exit codes. */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { influxConfigSchema } from '../processors/sink/index.js';
import { ReferenceModel } from '../simulator/expected/index.js';
import { REPORT_VERSION, type ExpectedPoint, type SimulationReport } from '../simulator/report.js';
import { runVerify, verifyReport, verifyReportUntilExact, type VerifyResult } from '../simulator/verify/index.js';
import { freePort, startInfluxd, type TestInfluxd } from './harness/influxdb.js';
import { SLUICE_BIN } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

const run = promisify(execFile);
const T0 = 1_700_000_000_000;

let influx: TestInfluxd;
beforeAll(async () => {
  influx = await startInfluxd();
});
afterAll(async () => {
  await influx?.destroy();
});

/** A report around expected points computed from a few readings of three devices (one with a registry tag). */
function makeReport(prefix: string): SimulationReport {
  const model = new ReferenceModel(
    [
      { name: 'w10', type: 'tumbling', size: 10_000 },
      { name: 'sess', type: 'session', gap: 5_000 },
    ],
    { devicePrefix: prefix },
  );
  let x = 3;
  for (let t = T0; t < T0 + 40_000; t += 700) {
    for (const [d, tags] of [['a', undefined], ['b', undefined], ['c', { site: 'north yard' }]] as const) {
      for (const metric of ['temperature', 'vibration']) {
        x = (x * 48_271) % 2_147_483_647;
        if (t > T0 + 15_000 && t < T0 + 22_000 && d === 'b') continue; // a gap: b gets two sessions
        model.add(`${prefix}${d}`, metric, t, metric === 'vibration' ? x / 1e6 - 1_000 : 20 + x / 2_147_483_647, tags);
      }
    }
  }
  const expected = model.result();
  return {
    version: REPORT_VERSION,
    seed: 1,
    options: {},
    startedAt: new Date(T0).toISOString(),
    durationMs: 40_000,
    sent: { messages: 0, readings: expected.readings, duplicates: 0, malformed: 0, resent: 0, bytes: 0 },
    acknowledged: 0,
    rejected: {},
    throughput: { messagesPerSecond: 0, readingsPerSecond: 0 },
    latencyMs: { count: 0, p50: 0, p90: 0, p99: 0, max: 0 },
    connections: { peak: 0, reconnects: 0, failed: 0 },
    expected,
  };
}

const escapeTag = (v: string): string => v.replace(/[ ,=]/g, '\\$&');

/** A point as the processors write it: tags device, metric and the rest; count an integer; a quantile inside its range. */
function line(p: ExpectedPoint, change: Partial<Record<string, number>> = {}): string {
  const tags = Object.entries({ device: p.device, metric: p.metric, ...p.tags }).map(([k, v]) => `${k}=${escapeTag(v)}`).join(',');
  const f = { count: p.count, sum: p.sum, min: p.min, max: p.max, mean: p.mean, first: p.first, last: p.last, stddev: p.stddev, p50: p.p50[0], p90: p.p90[1] * 1.004, p99: p.p99[0], ...change };
  const fields = Object.entries(f).map(([k, v]) => (k === 'count' ? `count=${v}i` : `${k}=${v}`)).join(',');
  return `${p.measurement},${tags} ${fields} ${p.time}`;
}

async function write(database: string, lines: string[]): Promise<void> {
  const res = await fetch(`${influx.url}/write?db=${database}&precision=ms`, { method: 'POST', body: lines.join('\n') });
  expect(res.status, await res.text()).toBe(204);
}

const ref = (p: ExpectedPoint) => ({ measurement: p.measurement, device: p.device, metric: p.metric, time: p.time, ...(p.tags ? { tags: p.tags } : {}) });

describe('sluice verify on influxd 1.6', () => {
  it('is exact for the points the processors would write; then reports exactly the deleted, changed and added point; the CLI exits 1', async () => {
    const database = `t_${randomUUID().replace(/-/g, '')}`;
    const prefix = `v${randomUUID().slice(0, 8)}-`;
    await influx.query(`CREATE DATABASE ${database}`);
    const report = makeReport(prefix);
    const points = report.expected.points;
    expect(points.filter((p) => p.measurement === 'sess' && p.device === `${prefix}b`)).toHaveLength(4); // 2 metrics × 2 sessions
    await write(database, points.map((p) => line(p)));
    // Another run's device and a point outside the run's time range are not this run's business.
    await write(database, [line({ ...points[0]!, device: `other-${prefix}` }), line({ ...points[0]!, time: T0 + 3_600_000 })]);
    const config = influxConfigSchema.parse({ url: influx.url, database });

    const clean = await verifyReport(report, config);
    expect(clean.exact).toBe(true);
    expect(clean.total).toEqual({ expected: points.length, found: points.length, missing: 0, extra: 0, mismatched: 0 });

    // Delete one point (of the tagged device: tags must round-trip), change another, add one.
    const gone = points.find((p) => p.measurement === 'w10' && p.tags !== undefined && p.metric === 'vibration' && p.time === T0 + 10_000)!;
    const changed = points.find((p) => p.measurement === 'sess' && p.device === `${prefix}b` && p.metric === 'temperature')!;
    await influx.query(`DELETE FROM w10 WHERE device = '${gone.device}' AND metric = 'vibration' AND time = ${gone.time}ms`, database);
    await write(database, [line(changed, { sum: changed.sum + 1e-6 * Math.abs(changed.sum), p50: changed.p50[0] * 1.5 })]);
    const added: ExpectedPoint = { ...points[0]!, device: `${prefix}z` };
    await write(database, [line(added)]);

    const broken = await verifyReport(report, config);
    expect(broken.exact).toBe(false);
    expect(broken.total).toEqual({ expected: points.length, found: points.length - 1, missing: 1, extra: 1, mismatched: 1 });
    expect(broken.missing).toEqual([ref(gone)]);
    expect(broken.extra).toEqual([ref(added)]);
    expect(broken.mismatched).toEqual([
      {
        ...ref(changed),
        diffs: [
          { field: 'sum', expected: changed.sum, stored: changed.sum + 1e-6 * Math.abs(changed.sum) },
          { field: 'p50', expected: changed.p50, stored: changed.p50[0] * 1.5 },
        ],
      },
    ]);

    // The CLI: the same findings, exit code 1; --json gives the structured result.
    const dir = await tempDir();
    try {
      const file = join(dir.path, 'report.json');
      await writeFile(file, JSON.stringify(report));
      const args = ['verify', '--report', file, '--set', `influx.url=${influx.url}`, '--set', `influx.database=${database}`];
      const err = await run(process.execPath, [SLUICE_BIN, ...args], { cwd: dir.path }).catch((e: { code: number; stdout: string; stderr: string }) => e);
      expect(err).toMatchObject({ code: 1 });
      const out = (err as { stdout: string }).stdout;
      expect(out).toContain(`missing (1):\n  w10  ${gone.device}  vibration site=north yard  ${new Date(gone.time).toISOString()}\n`);
      expect(out).toMatch(new RegExp(`mismatched \\(1\\):\\n  sess  ${changed.device}  temperature  \\S+  sum: expected \\S+, stored \\S+; p50: expected \\S+ ±1%, stored \\S+\\n`));
      expect(out).toContain(`extra (1):\n  w10  ${added.device}  ${added.metric}  ${new Date(added.time).toISOString()}\n`);
      expect(out).toMatch(/\nverify: NOT exact: 1 missing, 1 mismatched, 1 extra \(of \d+ expected points\)\n$/);
      const json = await run(process.execPath, [SLUICE_BIN, ...args, '--json'], { cwd: dir.path }).catch((e: { code: number; stdout: string }) => e);
      expect(json).toMatchObject({ code: 1 });
      const parsed = JSON.parse((json as { stdout: string }).stdout) as VerifyResult;
      expect(parsed.missing).toEqual([ref(gone)]);

      // Restored while runVerify waits for exactness (as simulate --verify does while the last windows close).
      const attempts: VerifyResult[] = [];
      const waiting = runVerify(report, config, { waitMs: 20_000, intervalMs: 100, attempt: (r) => attempts.push(r) });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await write(database, [line(gone), line(changed)]);
      await influx.query(`DELETE FROM w10 WHERE device = '${added.device}'`, database);
      const waited = await waiting;
      expect(waited.result.exact).toBe(true);
      expect(waited.text).toMatch(/\nverify: exact \(\d+ points\)\n$/);
      expect(attempts.length).toBeGreaterThan(0);
      expect(attempts[0]!.exact).toBe(false);
      const ok = await run(process.execPath, [SLUICE_BIN, ...args], { cwd: dir.path });
      expect(ok.stdout).toMatch(/\nverify: exact \(\d+ points\)\n$/);
    } finally {
      await dir.remove();
    }
  });

  it('exits 2 with what to do for a missing report, a report of another version and an unknown database; 1 for an unreachable InfluxDB', async () => {
    const dir = await tempDir();
    try {
      const file = join(dir.path, 'report.json');
      const sluice = (args: string[]) => run(process.execPath, [SLUICE_BIN, 'verify', ...args], { cwd: dir.path }).catch((e: { code: number; stderr: string }) => e);
      expect(await sluice(['--report', file])).toMatchObject({ code: 2, stderr: expect.stringMatching(/cannot read the report .*ENOENT.*sluice simulate --report.*SLUICE_VERIFY_REPORT_INVALID/) });
      await writeFile(file, JSON.stringify({ ...makeReport('x-'), version: 7 }));
      expect(await sluice(['--report', file])).toMatchObject({ code: 2, stderr: expect.stringMatching(/version 7.*SLUICE_VERIFY_REPORT_INVALID/) });
      await writeFile(file, JSON.stringify(makeReport('x-')));
      expect(await sluice(['--report', file, '--set', `influx.url=${influx.url}`, '--set', 'influx.database=nosuchdb'])).toMatchObject({
        code: 2,
        stderr: expect.stringMatching(/database not found.*set influx\.database.*SLUICE_VERIFY_QUERY_FAILED/),
      });
      const port = await freePort();
      // Unreachable is a runtime failure (retryable), exit 1; the rest above are usage errors, exit 2.
      expect(await sluice(['--report', file, '--set', `influx.url=http://127.0.0.1:${port}`])).toMatchObject({
        code: 1,
        stderr: expect.stringMatching(/unreachable \(ECONNREFUSED\).*influx\.url.*SLUICE_VERIFY_INFLUX_UNAVAILABLE/),
      });
    } finally {
      await dir.remove();
    }
  });
  it('keeps waiting while the points keep arriving (processors that fell behind), and gives up once nothing changes', async () => {
    const database = `t_${randomUUID().replace(/-/g, '')}`;
    const prefix = `v${randomUUID().slice(0, 8)}-`;
    await influx.query(`CREATE DATABASE ${database}`);
    const report = makeReport(prefix);
    const points = report.expected.points;
    const config = influxConfigSchema.parse({ url: influx.url, database });
    // Half the points are there; each attempt that is not exact writes 2 more, so the run
    // (8 attempts 300 ms apart) takes well over the 1 s the wait allows without a change.
    const half = Math.floor(points.length / 2);
    await write(database, points.slice(0, half).map((p) => line(p)));
    let next = half;
    const arrivals: Promise<void>[] = [];
        const started = Date.now();
    const waited = await verifyReportUntilExact(report, config, {
      timeoutMs: 1_000,
      intervalMs: 300,
      attempt: () => {
        const batch = points.slice(next, next + 2);
        next += batch.length;
        if (batch.length > 0) arrivals.push(write(database, batch.map((p) => line(p))));
      },
    });
    await Promise.all(arrivals);
    expect(waited.exact).toBe(true);
    expect(Date.now() - started).toBeGreaterThan(1_000); // it did outlast the no-change wait
    expect(next).toBe(points.length);

    // With one point that never comes, it gives up about timeoutMs after the last change.
    await influx.query(`DELETE FROM w10 WHERE device = '${points[0]!.device}' AND time = ${points[0]!.time}ms`, database);
    const stuck = await verifyReportUntilExact(report, config, { timeoutMs: 500, intervalMs: 100 });
    expect(stuck.exact).toBe(false);
    expect(stuck.total.missing).toBeGreaterThan(0);
  });
});
