import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { enrolFleet, FleetPlan, runSimulation, simulationOptionsSchema, type ExpectedModel, type SimulationOptionsInput } from '../simulator/index.js';
import { ReferenceModel } from '../simulator/expected/index.js';
import type { ExpectedResult } from '../simulator/report.js';
import { startTestGateway, type TestGateway } from './harness/gateway-node.js';
import { readLoggedMessages } from './harness/log-contents.js';
import { tempDir } from './harness/temp-dir.js';

const FLEET_KEY = 'simulated-fleet-key-0123456789';

/** Collects what the simulator says the gateway should accept (the reference model has its own tests). */
class RecordingModel implements ExpectedModel {
  readonly readings: string[] = [];
  add(device: string, metric: string, time: number, value: number): void {
    this.readings.push(`${device} ${metric} ${time} ${value}`);
  }
  advance(): void {}
  result(): ExpectedResult {
    return { windows: [], quantileRelativeAccuracy: 0.01, devicePrefix: 'sim-', eventTimeRange: { from: 0, to: 0 }, readings: this.readings.length, points: [] };
  }
}

describe('sluice simulate fleet', () => {
  let gw: TestGateway | undefined;
  afterEach(async () => {
    await gw?.destroy();
    gw = undefined;
  });

  async function simulate(input: SimulationOptionsInput) {
    gw = await startTestGateway({ set: { 'auth.mode': 'token', 'auth.fleetKey': FLEET_KEY, 'limits.messagesPerSecond': '0', 'limits.readingsPerSecond': '0', 'limits.bytesPerSecond': '0' } });
    const options = simulationOptionsSchema.parse({ url: gw.url, fleetKey: FLEET_KEY, startTime: Date.now() - 60_000, ...input });
    const model = new RecordingModel();
    const report = await runSimulation(options, { expected: model });
    return { options, model, report, gw };
  }

  it.each(['series', 'rows', 'json'] as const)('gets every valid %s message into the log once acknowledged, and each broken one refused for its reason', async (shape) => {
    const { options, model, report, gw } = await simulate({ devices: 20, rate: 2000, batch: 5, duration: '2s', shape, duplicates: 0.2, malformed: 0.1, disorder: 0.3, maxDelay: '500ms' });
    const plan = new FleetPlan(options, options.startTime!);
    // What the plan says the gateway must hold: every non-broken message, readings and all.
    const want = new Map<string, string[]>();
    let broken = 0;
    for (let d = 0; d < options.devices; d++) {
      const names = plan.metricNames(d);
      for (let k = 0; k < plan.messagesOf(d); k++) {
        const m = plan.message(d, k);
        if (m.malformed) broken++;
        else want.set(`${plan.deviceId(d)}#${m.seq}`, Array.from(m.time, (t, j) => `${names[m.metric[j]!]} ${t} ${m.value[j]}`).sort());
      }
    }
    expect(report.sent.messages).toBe(want.size + broken);
    expect(report.sent.malformed).toBe(broken);
    expect(report.sent.duplicates).toBeGreaterThan(0);
    expect(report.acknowledged).toBe(report.sent.messages + report.sent.duplicates);
    expect(model.readings).toHaveLength(report.sent.readings);
    const logged = new Map<string, string[]>();
    for (const m of await readLoggedMessages(gw.log)) logged.set(`${m.device}#${m.seq}`, m.readings.map((r) => `${r.metric} ${r.time} ${r.value}`).sort());
    expect(logged).toEqual(want);
    for (const [reason, n] of Object.entries(report.rejected)) expect(await gw.metric('sluice_gateway_rejected_total', { reason }), reason).toBe(n);
  });

  it('keeps every message through connection churn: unacknowledged publishes are re-sent after reconnecting', async () => {
    const { options, report, gw } = await simulate({ devices: 10, rate: 4000, batch: 10, duration: '3s', churn: 600, inflight: 8 });
    const plan = new FleetPlan(options, options.startTime!);
    let messages = 0;
    for (let d = 0; d < options.devices; d++) messages += plan.messagesOf(d);
    expect(report.connections.reconnects).toBeGreaterThan(5);
    const seen = new Set((await readLoggedMessages(gw.log)).map((m) => `${m.device}#${m.seq}`));
    expect(seen.size).toBe(messages);
  });

  it('reports the same counts and the same expected aggregates for the same seed, run after run', async () => {
    gw = await startTestGateway({ set: { 'auth.mode': 'token', 'auth.fleetKey': FLEET_KEY, 'limits.messagesPerSecond': '0', 'limits.readingsPerSecond': '0', 'limits.bytesPerSecond': '0' } });
    const options = simulationOptionsSchema.parse({ url: gw.url, fleetKey: FLEET_KEY, startTime: Date.now() - 60_000, devices: 15, rate: 1500, batch: 10, duration: '1500ms', seed: 99, disorder: 0.2, duplicates: 0.1, malformed: 0.05 });
    const windows = [
      { name: 'tumbling_5s', type: 'tumbling' as const, size: 5000 },
      { name: 'session_2s', type: 'session' as const, gap: 2000 },
    ];
    const once = () => runSimulation(options, { expected: new ReferenceModel(windows, { devicePrefix: options.devicePrefix }) });
    const [a, b] = [await once(), await once()];
    expect(a.expected.points.length).toBeGreaterThan(0);
    expect(b.expected).toEqual(a.expected);
    expect(b.sent).toEqual(a.sent);
    expect(b.rejected).toEqual(a.rejected);
    const other = await runSimulation({ ...options, seed: 100 }, { expected: new ReferenceModel(windows, { devicePrefix: options.devicePrefix }) });
    expect(other.expected).not.toEqual(a.expected);
  });

  it('enrols its devices in a registry file for registry auth, and reuses their secrets on the next run', async () => {
    const dir = await tempDir('sluice-sim-registry-');
    try {
      const registry = join(dir.path, 'devices.json');
      const options = simulationOptionsSchema.parse({ devices: 4, rate: 400, batch: 5, duration: '1s', startTime: Date.now() - 60_000 });
      const ids = Array.from({ length: 4 }, (_, d) => new FleetPlan(options, 0).deviceId(d));
      const first = await enrolFleet(registry, ids);
      expect(first.enrolled).toBe(4);
      const again = await enrolFleet(registry, ids);
      expect(again.enrolled).toBe(0);
      expect(again.passwords).toEqual(first.passwords);
      gw = await startTestGateway({ set: { 'auth.mode': 'registry', 'auth.registry': registry, 'limits.messagesPerSecond': '0', 'limits.readingsPerSecond': '0', 'limits.bytesPerSecond': '0' } });
      const report = await runSimulation({ ...options, url: gw.url }, { expected: new RecordingModel(), password: (id) => again.passwords.get(id) });
      expect(report.connections).toMatchObject({ peak: 4, failed: 0 });
      expect(report.acknowledged).toBe(report.sent.messages);
      expect(new Set((await readLoggedMessages(gw.log)).map((m) => m.device))).toEqual(new Set(ids));
    } finally {
      await dir.remove();
    }
  });

  it('plans the same messages from the same seed, and different ones from another', () => {
    const options = simulationOptionsSchema.parse({ devices: 5, rate: 500, duration: '2s', disorder: 0.2, duplicates: 0.1, malformed: 0.1, seed: 7 });
    const flat = (o: typeof options) => {
      const plan = new FleetPlan(o, 1_700_000_000_000);
      return Array.from({ length: o.devices }, (_, d) => Array.from({ length: plan.messagesOf(d) }, (_, k) => plan.message(d, k)));
    };
    expect(flat(options)).toEqual(flat({ ...options }));
    expect(flat({ ...options, seed: 8 })).not.toEqual(flat(options));
  });
});
