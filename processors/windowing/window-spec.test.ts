import { describe, expect, it } from 'vitest';
import { timeConfigSchema, windowSpecSchema, windowsConfigSchema } from './window-spec.js';

function issues(schema: { safeParse(v: unknown): { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } } }, value: unknown) {
  const r = schema.safeParse(value);
  expect(r.success).toBe(false);
  return r.error!.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

describe('window spec', () => {
  it('parses each type with durations as strings or ms', () => {
    expect(windowSpecSchema.parse({ name: 'w1', type: 'tumbling', size: '10s' })).toEqual({ name: 'w1', type: 'tumbling', size: 10_000 });
    expect(windowSpecSchema.parse({ name: 'w_2', type: 'sliding', size: '1m', slide: 15_000 })).toEqual({ name: 'w_2', type: 'sliding', size: 60_000, slide: 15_000 });
    expect(windowSpecSchema.parse({ name: 'S', type: 'session', gap: '30s' })).toEqual({ name: 'S', type: 'session', gap: 30_000 });
    // size need not be a multiple of slide
    expect(windowSpecSchema.parse({ name: 'x', type: 'sliding', size: '10s', slide: '3s' })).toMatchObject({ size: 10_000, slide: 3_000 });
    expect(windowSpecSchema.parse({ name: 'x', type: 'sliding', size: '10s', slide: '10s' })).toMatchObject({ slide: 10_000 });
  });

  it('requires the fields of its type and refuses the others, naming the key', () => {
    expect(issues(windowSpecSchema, { name: 'w', type: 'tumbling' })).toEqual([{ path: 'size', message: "a tumbling window needs size (e.g. '10s')" }]);
    expect(issues(windowSpecSchema, { name: 'w', type: 'sliding', size: '10s' })[0]!.path).toBe('slide');
    expect(issues(windowSpecSchema, { name: 'w', type: 'session' })[0]!.path).toBe('gap');
    expect(issues(windowSpecSchema, { name: 'w', type: 'tumbling', size: '10s', gap: '1s' })[0]).toMatchObject({ path: 'gap', message: expect.stringContaining('does not apply') });
    expect(issues(windowSpecSchema, { name: 'w', type: 'session', gap: '1s', size: '1s' })[0]!.path).toBe('size');
  });

  it('refuses slide > size, zero and fractional durations, bad names, unknown keys and types', () => {
    expect(issues(windowSpecSchema, { name: 'w', type: 'sliding', size: '5s', slide: '10s' })[0]).toMatchObject({ path: 'slide', message: expect.stringContaining('must not exceed size') });
    expect(issues(windowSpecSchema, { name: 'w', type: 'tumbling', size: 0 })[0]!.path).toBe('size');
    expect(issues(windowSpecSchema, { name: 'w', type: 'tumbling', size: 1.5 })[0]!.path).toBe('size');
    expect(issues(windowSpecSchema, { name: 'w', type: 'tumbling', size: 'ten' })[0]!.path).toBe('size');
    for (const name of ['', 'has space', 'dash-ed', 'dot.ted', 'ünï']) expect(issues(windowSpecSchema, { name, type: 'tumbling', size: '1s' })[0]!.path).toBe('name');
    expect(issues(windowSpecSchema, { name: 'w', type: 'tumbling', size: '1s', extra: 1 })[0]!.message).toMatch(/extra/);
    expect(issues(windowSpecSchema, { name: 'w', type: 'hopping', size: '1s' })[0]!.path).toBe('type');
  });

  it('defaults to one tumbling 10 s window named telemetry_10s and requires unique names', () => {
    expect(windowsConfigSchema.parse(undefined)).toEqual([{ name: 'telemetry_10s', type: 'tumbling', size: 10_000 }]);
    expect(windowsConfigSchema.parse([])).toEqual([]);
    const dup = issues(windowsConfigSchema, [
      { name: 'a', type: 'tumbling', size: '1s' },
      { name: 'b', type: 'tumbling', size: '1s' },
      { name: 'a', type: 'session', gap: '1s' },
    ]);
    expect(dup).toEqual([{ path: '2.name', message: expect.stringContaining('already used by windows[0]') }]);
    expect(issues(windowsConfigSchema, [{ name: 'a', type: 'tumbling' }])[0]!.path).toBe('0.size');
  });

  it('refuses a window named like a measurement Sluice writes itself', () => {
    for (const name of ['alerts', 'readings', 'late_readings', 'sluice_stats', 'device_status']) {
      expect(issues(windowsConfigSchema, [{ name, type: 'tumbling', size: '1s' }])).toEqual([{ path: '0.name', message: expect.stringContaining('a measurement Sluice writes itself') }]);
    }
  });
});

describe('time config', () => {
  it('has the documented defaults and parses durations', () => {
    expect(timeConfigSchema.parse(undefined)).toEqual({ maxOutOfOrderness: 5_000, idleTimeout: 30_000, allowedLateness: 30_000, maxBackfill: 86_400_000 });
    expect(timeConfigSchema.parse({ allowedLateness: '2m', maxOutOfOrderness: 0 })).toEqual({ maxOutOfOrderness: 0, idleTimeout: 30_000, allowedLateness: 120_000, maxBackfill: 86_400_000 });
  });

  it('refuses unknown keys and bad durations', () => {
    expect(issues(timeConfigSchema, { lateness: '1s' })[0]!.message).toMatch(/lateness/);
    expect(issues(timeConfigSchema, { idleTimeout: '-1s' })[0]!.path).toBe('idleTimeout');
  });
});
