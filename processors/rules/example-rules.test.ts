/**
 * rules.example.yaml stays valid against the default windows config and keeps one rule
 * of each kind, and each of its rules fires and resolves on a plain episode of its kind.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { windowsConfigSchema } from '../windowing/window-spec.js';
import { RuleEvaluator } from './rule-evaluator.js';
import type { AlertTransition } from './rule.js';
import { RULE_KINDS } from './rule.js';
import { loadRulesFile } from './rules-file.js';
import { states, win } from './testing/fixtures.js';

const EXAMPLE = fileURLToPath(new URL('../../rules.example.yaml', import.meta.url));
const DEFAULT_WINDOWS = windowsConfigSchema.parse(undefined);

describe('rules.example.yaml', () => {
  it('validates against the default windows and has one rule of each kind', async () => {
    const rules = await loadRulesFile(EXAMPLE, { windows: DEFAULT_WINDOWS });
    expect(rules.map((r) => r.kind).sort()).toEqual([...RULE_KINDS].sort());
    for (const rule of rules) if (rule.kind !== 'absence') expect(rule.window.name).toBe('telemetry_10s');
  });

  it('fires and resolves each rule on an episode of its kind', async () => {
    const out: AlertTransition[] = [];
    const ev = new RuleEvaluator(await loadRulesFile(EXAMPLE, { windows: DEFAULT_WINDOWS }), (t) => out.push(t));
    const at = (s: number): number => s * 1000;
    const w = (device: string, metric: string, s: number, value: number, deviceTags = ''): void => {
      ev.onWindow({ ...win(device, metric, at(s), value, { deviceTags }), window: 'telemetry_10s' });
      ev.onReadings(device, deviceTags, '', metric, at(s) - 1);
      ev.advance(at(s));
    };
    // machine-1 overheats for three windows, cools to 77 (still firing), then to 70
    [70, 85, 86, 87, 77, 70].forEach((v, i) => w('machine-1', 'temperature', 10 + i * 10, v));
    // sensor-p loses 60 kPa at 80 s: −1 kPa/s against each window a minute earlier, until 140 s
    [300, 300, 300, 300, 300, 300, 300, 240, 240, 240, 240, 240, 240, 240].forEach((v, i) => w('sensor-p', 'pressure', 10 + i * 10, v));
    // coldroom-1's door opens in the window ending at 30 s; 9 °C in the one ending at 120 s, 7 °C at 130 s
    w('coldroom-1', 'door', 30, 1, 'room=cold');
    [4, 9, 7, 5].forEach((v, i) => w('coldroom-1', 'temperature', 110 + i * 10, v, 'room=cold'));
    // everyone but sensor-p goes quiet; sensor-p speaks at 400 s
    ev.advance(at(400));
    w('sensor-p', 'pressure', 400, 240);
    const byRule = (rule: string): string[] => states(out.filter((t) => t.rule === rule));
    expect(byRule('overheating')).toEqual(['overheating:machine-1 firing@40000', 'overheating:machine-1 resolved@60000']);
    expect(byRule('pressure-drop')).toEqual(['pressure-drop:sensor-p firing@80000', 'pressure-drop:sensor-p resolved@140000']);
    expect(byRule('door-open-then-warm')).toEqual(['door-open-then-warm:coldroom-1 firing@120000', 'door-open-then-warm:coldroom-1 resolved@130000']);
    expect(byRule('silent')).toEqual(['silent:machine-1 firing@179999', 'silent:coldroom-1 firing@259999', 'silent:sensor-p firing@259999', 'silent:sensor-p resolved@399999']);
  });
});
