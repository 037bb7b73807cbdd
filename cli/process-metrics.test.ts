import { open, type FileHandle } from 'node:fs/promises';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerProcessMetrics } from './process-metrics.js';

async function value(registry: Registry, name: string): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  return metric?.values[0]?.value;
}

describe('registerProcessMetrics', () => {
  it('leaves out the defaults that walk every socket on each scrape', async () => {
    const registry = new Registry();
    registerProcessMetrics(registry);
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(['sluice_process_cpu_seconds_total', 'sluice_process_resident_memory_bytes', 'sluice_nodejs_heap_size_used_bytes', 'sluice_process_max_fds', 'sluice_build_info']));
    for (const gone of ['sluice_nodejs_active_handles', 'sluice_nodejs_active_handles_total', 'sluice_nodejs_active_resources', 'sluice_nodejs_active_resources_total']) expect(names).not.toContain(gone);
  });

  it.runIf(process.platform === 'linux')('counts open file descriptors, read off the event loop\'s thread', async () => {
    const registry = new Registry();
    registerProcessMetrics(registry);
    const before = await value(registry, 'sluice_process_open_fds');
    expect(before).toBeGreaterThan(2);
    const handles: FileHandle[] = [];
    try {
      for (let i = 0; i < 40; i++) handles.push(await open('/proc/self/stat', 'r'));
      const after = await value(registry, 'sluice_process_open_fds');
      // 40 more, give or take what the test runner itself opened or closed meanwhile.
      expect(after! - before!).toBeGreaterThanOrEqual(36);
      expect(after! - before!).toBeLessThanOrEqual(44);
    } finally {
      await Promise.all(handles.map((h) => h.close()));
    }
  });
});
