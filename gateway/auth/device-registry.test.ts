import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RegistryError } from '../../core/index.js';
import { canonicalTags, DeviceRegistry } from './index.js';

const fast = { scryptCost: 1024 };
let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-registry-'));
  file = join(dir, 'devices.json');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Loading `doc` as a registry must fail with a RegistryError whose message contains every `parts`. */
async function expectLoadError(doc: unknown, ...parts: string[]): Promise<void> {
  await writeFile(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
  const err = await DeviceRegistry.load(file, fast).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RegistryError);
  for (const part of [file, ...parts]) expect((err as Error).message).toContain(part);
}

describe('DeviceRegistry', () => {
  it('adds, verifies, lists, gets and removes devices', async () => {
    const registry = await DeviceRegistry.load(file, fast);
    expect(registry.list()).toEqual([]);
    const secret = await registry.add('dev-1', { tags: { site: 'berlin', model: 'x1' } });
    await registry.add('svc.dash', { role: 'service' });
    expect(Buffer.from(secret, 'base64url')).toHaveLength(32);

    const identity = await registry.verify('dev-1', Buffer.from(secret));
    expect(identity).toEqual({ id: 'dev-1', role: 'device', tags: { site: 'berlin', model: 'x1' }, tagString: 'model=x1,site=berlin' });
    expect(registry.list().map((d) => [d.id, d.role])).toEqual([['dev-1', 'device'], ['svc.dash', 'service']]);
    expect(JSON.stringify(registry.list())).not.toContain(secret);
    expect(registry.get('svc.dash')?.tagString).toBe('');
    expect(registry.get('nope')).toBeUndefined();

    expect(registry.remove('dev-1')).toBe(true);
    expect(registry.remove('dev-1')).toBe(false);
    expect(await registry.verify('dev-1', Buffer.from(secret))).toBeUndefined();
  });

  it('refuses a wrong secret, before and after a cached success', async () => {
    const registry = await DeviceRegistry.load(file, fast);
    const secret = await registry.add('dev-1');
    expect(await registry.verify('dev-1', Buffer.from('wrong'))).toBeUndefined();
    expect(await registry.verify('dev-1', Buffer.from(secret))).toBeDefined();
    expect(await registry.verify('dev-1', Buffer.from(`${secret}x`))).toBeUndefined();
    expect(await registry.verify('nobody', Buffer.from(secret))).toBeUndefined();
  });

  it('answers reconnects from the cache instead of re-running scrypt (default cost)', async () => {
    const registry = await DeviceRegistry.load(file);
    const secret = Buffer.from(await registry.add('dev-1'));
    expect((await storedEntries(registry))[0]!.secret).toMatch(/^scrypt\$16384\$8\$1\$/);
    let t = performance.now();
    expect(await registry.verify('dev-1', secret)).toBeDefined();
    const slow = performance.now() - t;
    t = performance.now();
    for (let i = 0; i < 10; i++) expect(await registry.verify('dev-1', secret)).toBeDefined();
    const cached = (performance.now() - t) / 10;
    expect(cached).toBeLessThan(slow / 5);
  });

  it('does not grant a device removed while its secret was being checked', async () => {
    const registry = await DeviceRegistry.load(file, fast);
    const secret = await registry.add('dev-1');
    const pending = registry.verify('dev-1', Buffer.from(secret));
    registry.remove('dev-1');
    expect(await pending).toBeUndefined();
  });

  it('refuses duplicate and invalid ids, bad roles and reserved tags', async () => {
    const registry = await DeviceRegistry.load(file, fast);
    await registry.add('dev-1');
    await expect(registry.add('dev-1')).rejects.toThrow(/already registered: give it a new secret with "sluice devices rotate dev-1"/);
    for (const bad of ['', 'a/b', 'a+b', 'a#', 'x'.repeat(129), 'sp ace']) {
      await expect(registry.add(bad), bad).rejects.toBeInstanceOf(RegistryError);
    }
    await expect(registry.add('ok:id_1.2-3'.padEnd(128, 'x'))).resolves.toBeTypeOf('string');
    await expect(registry.add('dev-2', { role: 'admin' as 'device' })).rejects.toThrow(/role/);
    await expect(registry.add('dev-3', { tags: { device: 'x' } })).rejects.toThrow(/reserved/);
  });

  it('saves with mode 0600, without plaintext secrets, and reloads', async () => {
    const registry = await DeviceRegistry.load(join(dir, 'nested', 'devices.json'), fast);
    const secret = await registry.add('dev-1', { tags: { site: 's1' } });
    await registry.save();
    const path = registry.path;
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const text = await readFile(path, 'utf8');
    expect(text).not.toContain(secret);

    const reloaded = await DeviceRegistry.load(path, fast);
    expect(reloaded.list()).toEqual(registry.list());
    expect(await reloaded.verify('dev-1', Buffer.from(secret))).toMatchObject({ id: 'dev-1', tags: { site: 's1' } });
  });

  it('saves atomically: no temp files left, concurrent saves end with the last state', async () => {
    const registry = await DeviceRegistry.load(file, fast);
    await registry.add('dev-1');
    const first = registry.save();
    await registry.add('dev-2');
    const second = registry.save();
    await Promise.all([first, second]);
    expect(await readdir(dir)).toEqual(['devices.json']);
    expect((await DeviceRegistry.load(file, fast)).list().map((d) => d.id)).toEqual(['dev-1', 'dev-2']);
  });

  it('leaves what was there and no temp file behind when a save fails', async () => {
    const target = join(dir, 'devices.json');
    const registry = await DeviceRegistry.load(target, fast);
    await registry.add('dev-1');
    // Something the rename cannot replace now sits at the target path.
    await mkdir(join(target, 'child'), { recursive: true });
    await expect(registry.save()).rejects.toThrow(RegistryError);
    expect(await readdir(dir)).toEqual(['devices.json']);
    expect(await readdir(target)).toEqual(['child']);
  });

  it('names the file, the entry index and the problem for malformed files', async () => {
    const registry = await DeviceRegistry.load(join(dir, 'good.json'), fast);
    await registry.add('dev-1');
    const good = (await storedEntries(registry))[0]!;
    await expectLoadError('{"devices": [', 'not valid JSON');
    await expectLoadError([], 'expected an object {"devices": [...]}');
    await expectLoadError({ devices: [], extra: 1 }, 'unknown top-level key "extra"');
    await expectLoadError({ devices: [good, { ...good, id: 'a/b' }] }, 'devices[1]', '"id"');
    await expectLoadError({ devices: [good, { ...good, secret: 'plain' }] }, 'devices[1]', '"secret"');
    await expectLoadError({ devices: [{ ...good, secret: 'scrypt$1000$8$1$AAAA$AAAA' }] }, 'devices[0]', 'N must be a power of two');
    await expectLoadError({ devices: [good, { ...good, id: 'dev-2', role: 'root' }] }, 'devices[1]', '"role"');
    await expectLoadError({ devices: [{ ...good, tags: { site: 3 } }] }, 'devices[0]', 'tag "site"');
    await expectLoadError({ devices: [{ ...good, secrets: 'x' }] }, 'devices[0]', 'unknown key "secrets"');
    await expectLoadError({ devices: [good, good] }, 'devices[1]', 'already used by devices[0]');
    await expectLoadError({ devices: ['dev-1'] }, 'devices[0]', 'expected an object');
  });

  it('never puts the stored hash into error messages', async () => {
    await writeFile(file, JSON.stringify({ devices: [{ id: 'd', secret: 'scrypt$16384$8$1$c2FsdA==$notbase64!!' }] }));
    await expect(DeviceRegistry.load(file, fast)).rejects.toThrow(/the hash is not base64/);
    await expect(DeviceRegistry.load(file, fast)).rejects.not.toThrow(/notbase64/);
  });

  it('refuses an invalid scrypt cost', async () => {
    await expect(DeviceRegistry.load(file, { scryptCost: 1000 })).rejects.toThrow(RegistryError);
  });
});

describe('canonicalTags', () => {
  it('sorts by key and escapes separators', () => {
    expect(canonicalTags({})).toBe('');
    expect(canonicalTags({ z: '1', a: '2', B: '3' })).toBe('B=3,a=2,z=1');
    expect(canonicalTags({ 'a,b': 'c=d' })).toBe('a\\,b=c\\=d');
  });
});

/** The entries as stored on disk (list() hides secrets by design, so read the saved file). */
async function storedEntries(registry: DeviceRegistry): Promise<Record<string, unknown>[]> {
  await registry.save();
  return (JSON.parse(await readFile(registry.path, 'utf8')) as { devices: Record<string, unknown>[] }).devices;
}
