import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RegistryError } from '../../core/index.js';
import { tempDir } from '../../test/harness/temp-dir.js';
import { DeviceRegistry } from './index.js';

const fast = { scryptCost: 1024 };
let dir: { path: string; remove(): Promise<void> };
let file: string;

beforeEach(async () => {
  dir = await tempDir('sluice-registry-reload-');
  file = join(dir.path, 'devices.json');
});
afterEach(() => dir.remove());

/** The registry the gateway holds, and a second handle on the same file as `sluice devices` uses it. */
async function twoHandles(): Promise<[DeviceRegistry, DeviceRegistry]> {
  const cli = await DeviceRegistry.load(file, fast);
  return [cli, await DeviceRegistry.load(file, fast)];
}

describe('DeviceRegistry.reload', () => {
  it('reports added, removed and changed ids and keeps unchanged identities current', async () => {
    const [cli] = await twoHandles();
    await cli.add('same');
    await cli.add('gone');
    await cli.add('retagged', { tags: { site: 'a' } });
    await cli.save();
    const gateway = await DeviceRegistry.load(file, fast);
    const same = gateway.get('same')!;
    const retagged = gateway.get('retagged')!;
    const edit = await DeviceRegistry.load(file, fast);
    edit.remove('gone');
    edit.remove('retagged');
    await edit.add('retagged', { tags: { site: 'b' } });
    await edit.add('new');
    await edit.save();
    expect(await gateway.reload()).toEqual({ added: ['new'], removed: ['gone'], changed: ['retagged'] });
    expect(gateway.isCurrent(same)).toBe(true);
    expect(gateway.isCurrent(retagged)).toBe(false);
    expect(gateway.get('retagged')!.tags).toEqual({ site: 'b' });
  });

  it('refuses a rotated-away secret that is in the verified cache, and never admits a removed id from it', async () => {
    const [cli, gateway] = await twoHandles();
    const old = await cli.add('dev');
    await cli.save();
    await gateway.reload();
    expect(await gateway.verify('dev', Buffer.from(old))).toBeDefined();
    expect(gateway.verifyCached('dev', Buffer.from(old))).toBeDefined();
    const fresh = await cli.rotate('dev');
    await cli.save();
    expect(await gateway.reload()).toEqual({ added: [], removed: [], changed: ['dev'] });
    expect(gateway.verifyCached('dev', Buffer.from(old))).toBeUndefined();
    expect(await gateway.verify('dev', Buffer.from(old))).toBeUndefined();
    expect(await gateway.verify('dev', Buffer.from(fresh))).toBeDefined();
    cli.remove('dev');
    await cli.save();
    await gateway.reload();
    expect(gateway.verifyCached('dev', Buffer.from(fresh))).toBeUndefined();
    expect(await gateway.verify('dev', Buffer.from(fresh))).toBeUndefined();
  });

  it('keeps the registry as it was when the file is broken or missing', async () => {
    const [cli, gateway] = await twoHandles();
    await cli.add('dev');
    await cli.save();
    await gateway.reload();
    await writeFile(file, '{"devices": [');
    await expect(gateway.reload()).rejects.toThrow(RegistryError);
    await rm(file);
    await expect(gateway.reload()).rejects.toThrow(/the file is missing \(write \{"devices": \[\]\} to remove every device\)/);
    expect(gateway.get('dev')).toBeDefined();
  });

  it('rotate keeps role and tags and refuses an unknown id', async () => {
    const [cli] = await twoHandles();
    await cli.add('svc', { role: 'service', tags: { team: 'ops' } });
    await cli.rotate('svc');
    expect(cli.get('svc')).toMatchObject({ role: 'service', tags: { team: 'ops' } });
    await expect(cli.rotate('ghost')).rejects.toThrow(/no device "ghost" in .*: add it with "sluice devices add ghost"/);
  });
});
