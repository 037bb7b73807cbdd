import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/index.js';
import { tempDir } from '../../test/harness/temp-dir.js';
import { AclRules, DeviceRegistry } from '../auth/index.js';
import { createGatewayMetrics } from '../metrics.js';
import { AuthReloader } from './auth-reloader.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function sessions() {
  const acls: AclRules[] = [];
  return { acls, control: { setAcl: (acl: AclRules) => void acls.push(acl), closeStale: () => [] } };
}

describe('AuthReloader', () => {
  it('starts without a watch when the registry directory does not exist yet, and still reloads on demand', async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const registry = await DeviceRegistry.load(join(dir.path, 'not-yet', 'devices.json'));
    const metrics = createGatewayMetrics(new Registry());
    const reloader = new AuthReloader({ registry, sessions: sessions().control, metrics, logger: createLogger('test', 'silent'), watch: true, debounceMs: 10 });
    cleanups.push(() => reloader.close());
    await reloader.reload();
    const invalid = await metrics.configReloads.get();
    expect(invalid.values).toEqual([{ labels: { file: 'registry', result: 'invalid' }, value: 1 }]);
  });

  it('applies reloads one at a time, in order', async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const aclFile = join(dir.path, 'acl.conf');
    await writeFile(aclFile, 'topic read a/#\n');
    const s = sessions();
    const reloader = new AuthReloader({ aclFile, sessions: s.control, metrics: createGatewayMetrics(new Registry()), logger: createLogger('test', 'silent'), watch: false, debounceMs: 10 });
    const first = reloader.reload(['acl']);
    await writeFile(aclFile, 'topic read b/#\n');
    const second = reloader.reload(['acl']);
    await Promise.all([first, second]);
    expect(s.acls).toHaveLength(2);
    expect(s.acls[1]!.canSubscribe({ id: 'x', role: 'device', tags: {}, tagString: '' }, 'x', 'b/1')).toBe(true);
  });
});
