import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice, encodeBatch } from './harness/devices.js';
import { startInfluxd, type InfluxRow, type TestInfluxd } from './harness/influxdb.js';
import { startTestNode, testNodeConfig } from './harness/sluice-node.js';
import { tempDir } from './harness/temp-dir.js';

process.env.SLUICE_LOG_LEVEL ??= 'error';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let influx: TestInfluxd;
beforeAll(async () => {
  influx = await startInfluxd();
  return () => influx.destroy();
});

/** Straightforward reference aggregates of one window's values, in arrival order with their times. */
function reference(samples: { t: number; v: number }[]) {
  const values = samples.map((s) => s.v);
  const count = values.length;
  const sum = values.reduce((a, b) => a + b, 0);
  const mean = sum / count;
  const stddev = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / count);
  const byTime = [...samples].map((s, i) => ({ ...s, i })).sort((a, b) => a.t - b.t || a.i - b.i);
  const sorted = [...values].sort((a, b) => a - b);
  // DDSketch's definition: the value of rank floor(q × (count − 1)) in sorted order.
  const quantile = (q: number): number => sorted[Math.floor(q * (count - 1))]!;
  return { count, sum, min: sorted[0]!, max: sorted[count - 1]!, mean, first: byTime[0]!.v, last: byTime[byTime.length - 1]!.v, stddev, p50: quantile(0.5), p90: quantile(0.9), p99: quantile(0.99) };
}

async function waitForRows(q: string, expected: number): Promise<InfluxRow[]> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const rows = await influx.query(q).catch(() => []);
    if (rows.length >= expected) return rows;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${expected} rows of: ${q}`);
}

/** `sluice start` in this process, writing to a fresh database `<prefix>_<now>`; stopped after the test. */
async function startNode(prefix: string, idleTimeout = '200ms') {
  const dir = await tempDir();
  cleanups.push(dir.remove);
  const db = `${prefix}_${Date.now()}`;
  const config = await testNodeConfig(dir.path, influx.url, { 'influx.database': db, 'time.idleTimeout': idleTimeout, 'time.maxOutOfOrderness': '1s', 'checkpoint.interval': '500ms' });
  const node = await startTestNode(config);
  cleanups.push(() => node.stop());
  return { db, node };
}

describe('gateway → log → processors → InfluxDB', () => {
  it('writes every field of every (device, metric, window) point as computed from the readings', async () => {
    const { db, node } = await startNode('e2e');

    // Three 10 s windows a few minutes in the past; two devices, two metrics, rows and series mixed.
    const base = Math.floor((Date.now() - 5 * 60_000) / 10_000) * 10_000;
    const expected = new Map<string, { t: number; v: number }[]>();
    const devices = await Promise.all(['e2e-a', 'e2e-b'].map((id) => connectDevice(node.url, id, undefined, { username: undefined })));
    let seq = 0;
    for (let w = 0; w < 3; w++) {
      for (const [d, device] of devices.entries()) {
        const id = `e2e-${'ab'[d]}`;
        const temps = Array.from({ length: 7 }, (_, i) => ({ t: base + w * 10_000 + i * 1_300, v: 20 + d + w + Math.sin(i + w) }));
        const vib = { start: base + w * 10_000 + 500, deltas: [0, 1000, 2000, 3000, 9000], values: [1.5, -2, 3.25, 0, 8 * (w + 1)] };
        await device.publishAsync(`devices/${id}/telemetry`, encodeBatch({ seq: ++seq, readings: temps.map((s) => ({ metric: 'temp', timeUnixMs: s.t, doubleValue: s.v })), series: [{ metric: 'vib', startUnixMs: vib.start, timeDeltaMs: vib.deltas, values: vib.values }] }), { qos: 1 });
        const key = (metric: string): string => `${id}/${metric}/${base + w * 10_000}`;
        expected.set(key('temp'), temps);
        expected.set(key('vib'), vib.deltas.map((dt, i) => ({ t: vib.start + dt, v: vib.values[i]! })));
      }
    }
    await Promise.all(devices.map((d) => d.endAsync()));

    const rows = await waitForRows(`SELECT * FROM "${db}"."autogen"."telemetry_10s"`, expected.size);
    expect(rows).toHaveLength(expected.size);
    for (const row of rows) {
      const key = `${row.device}/${row.metric}/${row.time}`;
      const want = reference(expected.get(key)!);
      expect(row.count, key).toBe(want.count);
      for (const field of ['sum', 'mean', 'stddev'] as const) expect(row[field] as number, `${key} ${field}`).toBeCloseTo(want[field], 9);
      for (const field of ['min', 'max', 'first', 'last'] as const) expect(row[field], `${key} ${field}`).toBe(want[field]);
      for (const field of ['p50', 'p90', 'p99'] as const) {
        expect(Math.abs((row[field] as number) - want[field]), `${key} ${field}`).toBeLessThanOrEqual(Math.abs(want[field]) * 0.02 + 1e-9);
      }
    }
  });

  it('counts a device that numbers its batches from 1 again after a reboot, and still drops its re-sends', async () => {
    const { db, node } = await startNode('e2e_reboot');

    const id = 'e2e-reboot';
    const base = Math.floor((Date.now() - 5 * 60_000) / 10_000) * 10_000;
    const batch = (seq: number, t: number): Buffer => encodeBatch({ seq, readings: [{ metric: 'temp', timeUnixMs: t, doubleValue: seq }] });
    const before = await connectDevice(node.url, id, undefined, { username: undefined });
    for (const seq of [1, 2, 3]) await before.publishAsync(`devices/${id}/telemetry`, batch(seq, base + seq * 1000), { qos: 1 });
    await before.publishAsync(`devices/${id}/telemetry`, batch(2, base + 2000), { qos: 1 }); // a re-send
    await before.endAsync();
    // Rebooted, its seq from 1 again: new readings, a window later.
    const after = await connectDevice(node.url, id, undefined, { username: undefined });
    for (const seq of [1, 2]) await after.publishAsync(`devices/${id}/telemetry`, batch(seq, base + 10_000 + seq * 1000), { qos: 1 });
    await after.publishAsync(`devices/${id}/telemetry`, batch(1, base + 11_000), { qos: 1 }); // a re-send of the new seq 1
    await after.endAsync();

    const rows = await waitForRows(`SELECT "count", "sum" FROM "${db}"."autogen"."telemetry_10s"`, 2);
    expect(rows.map((r) => [r.time, r.count, r.sum])).toEqual([[base, 3, 6], [base + 10_000, 2, 3]]);
  });

  it('counts a device that reboots with its clock behind (new readings under reused seqs, older than its latest), and still drops re-sends of both runs', async () => {
    // A long idle timeout: the reboot must not close the window between the two runs.
    const { db, node } = await startNode('e2e_clock_back', '2s');

    const id = 'e2e-clock-back';
    const base = Math.floor((Date.now() - 5 * 60_000) / 10_000) * 10_000;
    // Run 1: seq k at base + 5 s + k × 100 ms, value k. Run 2, rebooted with its clock 4 s
    // behind: seq k at base + 1 s + k × 100 ms, value 100 + k. All in one 10 s window.
    const first = (k: number): Buffer => encodeBatch({ seq: k, readings: [{ metric: 'temp', timeUnixMs: base + 5000 + k * 100, doubleValue: k }] });
    const second = (k: number): Buffer => encodeBatch({ seq: k, readings: [{ metric: 'temp', timeUnixMs: base + 1000 + k * 100, doubleValue: 100 + k }] });
    const topic = `devices/${id}/telemetry`;
    const before = await connectDevice(node.url, id, undefined, { username: undefined });
    for (let k = 1; k <= 30; k++) await before.publishAsync(topic, first(k), { qos: 1 });
    await before.publishAsync(topic, first(30), { qos: 1 }); // a re-send
    await before.endAsync();
    const after = await connectDevice(node.url, id, undefined, { username: undefined });
    for (let k = 1; k <= 25; k++) await after.publishAsync(topic, second(k), { qos: 1 });
    // Re-sends: the new seq 1, run 1's latest (its fingerprint kept) and run 1's seq 10 (none kept; its times decide).
    for (const payload of [second(1), first(29), first(10)]) await after.publishAsync(topic, payload, { qos: 1 });
    await after.endAsync();

    const sum = (from: number, to: number, plus: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i + plus).reduce((a, b) => a + b, 0);
    const rows = await waitForRows(`SELECT "count", "sum" FROM "${db}"."autogen"."telemetry_10s"`, 1);
    expect(rows.map((r) => [r.time, r.count, r.sum])).toEqual([[base, 55, sum(1, 30, 0) + sum(1, 25, 100)]]);
    const restarts = (await (await fetch(`http://127.0.0.1:${node.ports.http}/metrics`)).text()).match(/^sluice_processor_seq_restarts_total (\d+)/m);
    expect(restarts?.[1]).toBe('1');
  });
});
