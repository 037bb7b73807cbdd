import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { StorageHealth } from './storage-health.js';

const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
const erofs = Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' });

/** A logger that keeps what it was asked to log. */
function recordingLogger(): { lines: string[]; logger: never } {
  const lines: string[] = [];
  const logger = { error: (_: unknown, msg: string) => lines.push(`error ${msg}`), warn: (_: unknown, msg: string) => lines.push(`warn ${msg}`) };
  return { lines, logger: logger as never };
}

describe('StorageHealth', () => {
  it('counts every failure but logs and reports an episode once, at its start and at its end', async () => {
    const registry = new Registry();
    const { lines, logger } = recordingLogger();
    const changes: [string, string | undefined][] = [];
    const health = new StorageHealth({ registry, logger, onChange: (c, errno) => changes.push([c, errno]) });
    for (let i = 0; i < 5; i++) health.failed('log', enospc);
    expect(health.problem).toMatch(/^storage refuses writes: log ENOSPC since \d{4}-/);
    health.recovered('log');
    health.recovered('log');
    expect(health.problem).toBeUndefined();
    expect(lines).toHaveLength(2);
    expect(changes).toEqual([['log', 'ENOSPC'], ['log', undefined]]);
    expect(await registry.getSingleMetricAsString('sluice_storage_errors_total')).toContain('sluice_storage_errors_total{component="log",code="ENOSPC"} 5');
  });

  it('lists every failing component; best-effort ones do not make the node unready', () => {
    const health = new StorageHealth();
    health.failed('dead-letters', enospc, false);
    expect(health.problem).toBeUndefined();
    health.failed('log', enospc);
    health.mirror('checkpoint (processor thread 1)', 'EROFS');
    expect(health.problem).toMatch(/log ENOSPC since .*; checkpoint \(processor thread 1\) EROFS since /);
    health.mirror('checkpoint (processor thread 1)', undefined);
    health.recovered('log');
    expect(health.problem).toBeUndefined();
  });

  it('shares one counter between healths on the same registry (the log and the gateway)', async () => {
    const registry = new Registry();
    new StorageHealth({ registry }).failed('log', erofs);
    new StorageHealth({ registry }).failed('dead-letters', erofs, false);
    const text = await registry.getSingleMetricAsString('sluice_storage_errors_total');
    expect(text).toContain('{component="log",code="EROFS"} 1');
    expect(text).toContain('{component="dead-letters",code="EROFS"} 1');
  });
});
