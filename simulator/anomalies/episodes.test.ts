/** The --anomalies episodes under rules.example.yaml: each rule fires and resolves once, at the times episodes.ts documents. */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { keyGroupOf } from '../../routing/index.js';
import { AlertingModel, AlertReference, readReferenceRules } from '../alerts/index.js';
import { ReferenceModel, type ExpectedWindow } from '../expected/index.js';
import { AnomalyPlan } from './index.js';

const EXAMPLE = fileURLToPath(new URL('../../rules.example.yaml', import.meta.url));
const WINDOWS: ExpectedWindow[] = [{ name: 'telemetry_10s', type: 'tumbling', size: 10_000 }];
/** Now: the model judges maxBackfill against the real clock. */
const NOW = Date.now();

async function expectedOf(plan: AnomalyPlan, shape: 'series' | 'rows' = 'series', extend?: (model: AlertingModel) => void) {
  const ids = plan.devices.map((d) => d.id);
  const model = new AlertingModel(
    new ReferenceModel(WINDOWS, { devicePrefix: 'sim-', devices: ids, time: { maxOutOfOrderness: 5_000, allowedLateness: 30_000, maxBackfill: 86_400_000 } }),
    new AlertReference(await readReferenceRules(EXAMPLE, WINDOWS), { maxOutOfOrderness: 5_000, quantileRelativeAccuracy: 0.01 }),
    shape,
    ids,
  );
  for (const m of plan.messages()) {
    const dev = plan.devices[m.device]!;
    model.message(dev.id);
    for (let j = 0; j < m.time.length; j++) model.add(dev.id, dev.metrics[m.metric[j]!]!, m.time[j]!, m.value[j]!);
  }
  extend?.(model);
  return model.result();
}

describe('AnomalyPlan', () => {
  it('places the episodes on whole minutes before the run, the meter and its neighbour in one partition, ids unique to the run', () => {
    const plan = new AnomalyPlan('abc', 64, NOW);
    expect(plan.baseMs % 60_000).toBe(0);
    expect(NOW - (plan.baseMs + 400_000)).toBeGreaterThanOrEqual(10_000);
    const [machine, pump, meter, neighbour, coldroom] = plan.devices.map((d) => d.id);
    expect([machine, pump, meter, coldroom]).toEqual(['machine-abc', 'pump-abc', 'meter-abc', 'coldroom-abc']);
    expect(keyGroupOf(neighbour!, 64)).toBe(keyGroupOf(meter!, 64));
    const messages = plan.messages();
    for (let i = 1; i < messages.length; i++) expect(messages[i]!.time[0]).toBeGreaterThanOrEqual(messages[i - 1]!.time[0]!);
  });

  it('under rules.example.yaml, makes each rule fire and resolve once, at the documented times', async () => {
    const plan = new AnomalyPlan('abc', 64, NOW);
    const r = await expectedOf(plan);
    const at = (s: number): number => plan.baseMs + s * 1000;
    const seen = r.alerts!.map((a) => [a.rule, a.device, a.state, a.time]);
    expect(seen).toEqual([
      ['overheating', 'machine-abc', 'firing', at(90)],
      ['overheating', 'machine-abc', 'resolved', at(120)],
      ['pressure-drop', 'pump-abc', 'firing', at(150)],
      ['pressure-drop', 'pump-abc', 'resolved', at(200)],
      ['silent', 'meter-abc', 'firing', at(269.5)],
      ['silent', 'meter-abc', 'resolved', at(330.5)],
      ['door-open-then-warm', 'coldroom-abc', 'firing', at(340)],
      ['door-open-then-warm', 'coldroom-abc', 'resolved', at(370)],
    ]);
    const value = (rule: string, state: string): number => r.alerts!.find((a) => a.rule === rule && a.state === state)!.value;
    expect(value('overheating', 'firing')).toBeCloseTo(85, 9);
    expect(value('pressure-drop', 'firing')).toBeCloseTo((61.75 - 100) / 60, 9);
    expect(value('silent', 'resolved')).toBe(181);
    expect(value('door-open-then-warm', 'firing')).toBeCloseTo(9.5, 9);
    expect(r.undecidedAlerts).toBeUndefined();
    expect(r.devices).toEqual(plan.devices.map((d) => d.id));
    expect(r.alertRules!.map((x) => x.kind).sort()).toEqual(['absence', 'rate', 'sequence', 'threshold']);
  });

  it('expects every episode device to fall silent 2 minutes after its last reading once the run lasts that long', async () => {
    const plan = new AnomalyPlan('abc', 64, NOW);
    // a fleet device sends until base + 560 s: silences dated up to then are expected
    const r = await expectedOf(plan, 'rows', (m) => {
      m.message('sim-00000');
      m.add('sim-00000', 'temperature', plan.baseMs + 560_000, 20);
    });
    const silent = r.alerts!.filter((a) => a.rule === 'silent' && a.state === 'firing' && a.time === plan.baseMs + 519_500);
    expect(silent.map((a) => a.device)).toEqual(plan.devices.map((d) => d.id).sort());
    expect(r.alerts!.filter((a) => a.device === 'meter-abc' && a.rule === 'silent').map((a) => a.time - plan.baseMs)).toEqual([269_500, 330_500, 519_500]);
  });
});
