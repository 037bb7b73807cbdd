import { readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../test/harness/temp-dir.js';
import { lockDataDir } from './data-dir-lock.js';
import { DataDirLockedError } from './errors.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function dir(): Promise<string> {
  const d = await tempDir();
  cleanups.push(d.remove);
  return d.path;
}

describe('lockDataDir', () => {
  it('refuses a second lock while held and allows one after release', async () => {
    const path = await dir();
    const lock = await lockDataDir(path);
    expect(await readlink(join(path, 'sluice.lock'))).toMatch(new RegExp(`^sluice:${process.pid}:\\d+:[0-9a-f]{16}$`));
    await expect(lockDataDir(path)).rejects.toThrow(DataDirLockedError);
    await lock.release();
    const again = await lockDataDir(path);
    await again.release();
  });

  it('refuses a lock of a live process and names its pid', async () => {
    const path = await dir();
    await symlink(`sluice:${process.ppid}:-:00`, join(path, 'sluice.lock'));
    const err = await lockDataDir(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataDirLockedError);
    expect((err as DataDirLockedError).code).toBe('SLUICE_DATADIR_LOCKED');
    expect((err as Error).message).toBe(`data directory ${path} is in use by sluice process ${process.ppid}: stop it first, or give this process another dataDir`);
  });

  it('takes over a lock whose pid is gone, reused by a later process, or that is not a lock', async () => {
    for (const stale of [`sluice:${2 ** 22 + 1}:-:dead`, `sluice:${process.ppid}:1:0a`, 'garbage', 'a regular file']) {
      const path = await dir();
      const lockPath = join(path, 'sluice.lock');
      if (stale === 'a regular file') await writeFile(lockPath, '4242\n');
      else await symlink(stale, lockPath);
      const lock = await lockDataDir(path);
      expect(await readlink(lockPath)).toMatch(new RegExp(`^sluice:${process.pid}:`));
      await lock.release();
    }
  });
});
