import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DeviceRegistry } from '../../gateway/index.js';
import { RulesInvalidError } from '../../processors/rules/index.js';
import { tempDir } from '../../test/harness/temp-dir.js';
import { loadConfig } from '../config-loader.js';
import { checkRulesFile } from './rules-check.js';

const EXAMPLE = fileURLToPath(new URL('../../rules.example.yaml', import.meta.url));

describe('sluice rules check', () => {
  it('prints each rule of the example and the registered devices it selects', async () => {
    const dir = await tempDir();
    try {
      const registryFile = join(dir.path, 'devices.json');
      const registry = await DeviceRegistry.load(registryFile, { scryptCost: 2 });
      for (const id of ['machine-1', 'press-7', 'coldroom-1', 'coldroom-2', 'sensor-p']) await registry.add(id, { tags: id.startsWith('coldroom') ? { room: 'cold' } : {} });
      await registry.add('dashboard', { role: 'service' });
      await registry.save();
      const config = await loadConfig({ env: {}, overrides: { 'auth.registry': registryFile } });
      expect(await checkRulesFile(EXAMPLE, config)).toEqual([
        `${EXAMPLE}: 4 rules, valid against the configured windows (telemetry_10s)`,
        `devices from ${registryFile} (5 registered)`,
        'overheating (threshold, critical): mean(temperature) > 80 on 3 consecutive telemetry_10s windows (30s); clears when mean(temperature) < 75',
        '  selects 2 of 5 registered devices: machine-1, press-7',
        'pressure-drop (rate, warning): change of mean(pressure) over 1m of telemetry_10s windows < -0.5 per second',
        '  selects all 5 registered devices',
        'silent (absence, warning): no reading for 2m',
        '  selects all 5 registered devices',
        'door-open-then-warm (sequence, warning): max(door) >= 1, then within 5m mean(temperature) > 8 (telemetry_10s windows); clears when mean(temperature) <= 8',
        '  selects 2 of 5 registered devices: coldroom-1, coldroom-2',
      ]);
    } finally {
      await dir.remove();
    }
  });

  it('describes the selection when there is no registry, lists at most ten ids, and names reading tags', async () => {
    const dir = await tempDir();
    try {
      const file = join(dir.path, 'rules.yaml');
      await writeFile(
        file,
        `rules:
  - { name: a, severity: info, devices: { ids: ['m-*'], tags: { site: x } }, absence: { for: 1m } }
  - { name: b, severity: info, devices: { readingTags: { zone: top } }, absence: { for: 1m } }
  - { name: c, severity: info, devices: { ids: [nobody] }, absence: { for: 1m } }
`,
      );
      const none = await loadConfig({ env: {}, overrides: { 'auth.registry': join(dir.path, 'missing.json') } });
      expect((await checkRulesFile(file, none)).filter((l) => l.startsWith('  '))).toEqual([
        '  selects devices with id m-*, tagged site=x',
        '  selects all devices, readings tagged zone=top',
        '  selects devices with id nobody',
      ]);
      const registryFile = join(dir.path, 'devices.json');
      const registry = await DeviceRegistry.load(registryFile, { scryptCost: 2 });
      for (let i = 0; i < 12; i++) await registry.add(`m-${i}`, { tags: { site: 'x' } });
      await registry.save();
      const config = await loadConfig({ env: {}, overrides: { 'auth.registry': registryFile } });
      expect((await checkRulesFile(file, config)).filter((l) => l.startsWith('  '))).toEqual([
        '  selects all 12 registered devices',
        '  selects all 12 registered devices (readings tagged zone=top only)',
        '  selects none of the 12 registered devices (devices with id nobody)',
      ]);
      await writeFile(file, 'rules:\n  - { name: a, severity: info, devices: { ids: [m-1, m-*] }, absence: { for: 1m } }\n');
      await registry.add('z-1', {});
      await registry.save();
      expect((await checkRulesFile(file, config))[3]).toBe('  selects 12 of 13 registered devices: m-0, m-1, m-2, m-3, m-4, m-5, m-6, m-7, m-8, m-9, … and 2 more');
    } finally {
      await dir.remove();
    }
  });

  it('refuses an invalid file against the configured windows, with every problem', async () => {
    const dir = await tempDir();
    try {
      const file = join(dir.path, 'rules.yaml');
      await writeFile(file, "rules:\n  - { name: a, severity: info, window: w1m, threshold: { metric: t, aggregate: mean, op: '>', value: 1, for: 30s } }\n  - { name: b, severity: loud, absence: { for: 1m } }\n");
      const config = await loadConfig({ env: {} });
      const err = await checkRulesFile(file, config).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RulesInvalidError);
      expect((err as RulesInvalidError).problems).toEqual([
        'rules[0].window (rule "a", line 2): unknown window "w1m": the configured windows are telemetry_10s (a threshold rule reads window aggregates) (got "w1m")',
        'rules[1].severity (rule "b", line 3): expected one of info, warning, critical (got "loud")',
      ]);
      const sliding = { ...config, windows: [{ name: 'w1m', type: 'sliding' as const, size: 60_000, slide: 20_000 }] };
      expect(((await checkRulesFile(file, sliding).catch((e: unknown) => e)) as RulesInvalidError).problems[0]).toMatch(/threshold\.for .*whole multiple of window w1m's step \(20s\)/);
    } finally {
      await dir.remove();
    }
  });
});
