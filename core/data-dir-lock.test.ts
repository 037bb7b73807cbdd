import { readFile, writeFile } from 'node:fs/promises';
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
    const holder = JSON.parse(await readFile(join(path, 'sluice.lock'), 'utf8')) as { pid: number };
    expect(holder.pid).toBe(process.pid);
    await expect(lockDataDir(path)).rejects.toThrow(DataDirLockedError);
    await lock.release();
    const again = await lockDataDir(path);
    await again.release();
  });

  it('refuses a lock of a live process and names its pid', async () => {
    const path = await dir();
    await writeFile(join(path, 'sluice.lock'), JSON.stringify({ pid: process.ppid, nonce: 'x' }));
    const err = await lockDataDir(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataDirLockedError);
    expect((err as DataDirLockedError).code).toBe('SLUICE_DATADIR_LOCKED');
    expect((err as Error).message).toBe(`data directory ${path} is in use by sluice process ${process.ppid}: stop it first, or give this process another dataDir`);
  });

  it('takes over a lock whose pid is gone, reused by a later process, or unreadable', async () => {
    for (const stale of [{ pid: 2 ** 22 + 1, nonce: 'dead' }, { pid: process.ppid, started: 1, nonce: 'reused' }, 'not json']) {
      const path = await dir();
      await writeFile(join(path, 'sluice.lock'), typeof stale === 'string' ? stale : JSON.stringify(stale));
      const lock = await lockDataDir(path);
      expect((JSON.parse(await readFile(join(path, 'sluice.lock'), 'utf8')) as { pid: number }).pid).toBe(process.pid);
      await lock.release();
    }
  });
});
