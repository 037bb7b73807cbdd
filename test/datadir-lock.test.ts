import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSluice, type SluiceProcess } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const args = (command: string, dataDir: string): string[] => [
  command, '--data-dir', dataDir, '--mqtt-port', '0', '--http-port', '0',
  '--set', 'auth.mode=anonymous', '--set', 'mqtt.host=127.0.0.1', '--set', 'http.host=127.0.0.1', '--set', 'stats.enabled=false',
];

function spawn(command: string, dataDir: string): SluiceProcess {
  const node = spawnSluice(args(command, dataDir));
  node.ready.catch(() => undefined); // some are meant to exit before they are ready
  cleanups.push(async () => {
    if (node.child.exitCode === null && node.child.signalCode === null) {
      node.child.kill('SIGKILL');
      await node.exited;
    }
  });
  return node;
}

describe('one process per dataDir', () => {
  it('refuses a second start or gateway on a dataDir in use (exit 2, one line naming the dir and the pid)', { timeout: 60_000 }, async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const first = spawn('gateway', dir.path);
    await first.ready;
    for (const command of ['start', 'gateway']) {
      const second = spawn(command, dir.path);
      expect(await second.exited, second.output.join('\n')).toBe(2);
      const errors = second.output.filter((l) => l.startsWith('sluice:'));
      expect(errors).toEqual([`sluice: data directory ${dir.path} is in use by sluice process ${first.child.pid}: stop it first, or give this process another dataDir [SLUICE_DATADIR_LOCKED]`]);
    }
    expect(first.child.exitCode, 'the first process must keep running').toBeNull();
  });

  it('takes over the lock a kill -9 left behind', { timeout: 60_000 }, async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const first = spawn('gateway', dir.path);
    await first.ready;
    first.child.kill('SIGKILL');
    await first.exited;
    expect(await readlink(join(dir.path, 'sluice.lock'))).toMatch(new RegExp(`^sluice:${first.child.pid}:`));
    const second = spawn('gateway', dir.path);
    await second.ready;
    expect(await readlink(join(dir.path, 'sluice.lock'))).toMatch(new RegExp(`^sluice:${second.child.pid}:`));
    // A clean stop removes the lock.
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    await expect(lstat(join(dir.path, 'sluice.lock'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
