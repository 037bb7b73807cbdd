import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkpoint, describeCheckpointStoreContract } from '../../test/checkpoint-store-contract.js';
import { tempDir } from '../../test/harness/temp-dir.js';
import { CheckpointVersionError, LocalCheckpointStore } from './index.js';

const pad = (n: number): string => String(n).padStart(16, '0');
/** The file name of checkpoint `id` of the contract's partition 5 (fullEvery 4). */
const name = (id: number): string => {
  const c = checkpoint(id);
  return c.kind === 'full' ? `${pad(id)}.full.ckpt` : `${pad(id)}.delta-${pad(c.base)}.ckpt`;
};

describeCheckpointStoreContract('LocalCheckpointStore', async () => {
  const dir = await tempDir();
  const partitionDir = join(dir.path, '005');
  /** The file of checkpoint `id`, whichever fullEvery wrote it (the name says its kind). */
  const fileOf = async (id: number): Promise<string> => {
    const file = (await readdir(partitionDir)).find((f) => f.startsWith(`${pad(id)}.`) && f.endsWith('.ckpt'));
    if (!file) throw new Error(`no file of checkpoint ${id} in ${partitionDir}`);
    return join(partitionDir, file);
  };
  return {
    open: async (keep) => new LocalCheckpointStore(dir.path, keep),
    storedIds: async () => (await readdir(partitionDir).catch(() => [] as string[])).map((f) => Number(f.slice(0, 16))).sort((a, b) => a - b),
    damage: async (id, damage) => {
      const file = await fileOf(id);
      await writeFile(file, damage(await readFile(file)));
    },
    remove: async (id) => rm(await fileOf(id)),
    location: fileOf,
    destroy: () => dir.remove(),
  };
});

describe('LocalCheckpointStore', () => {
  it('names files by id, kind and base', async () => {
    const dir = await tempDir();
    const store = new LocalCheckpointStore(dir.path, 10);
    for (let id = 1; id <= 3; id++) await store.write(checkpoint(id));
    expect((await readdir(join(dir.path, '005'))).sort()).toEqual([1, 2, 3].map(name));
    await dir.remove();
  });

  it('reports a delta whose base is missing, and a file whose header does not match its name', async () => {
    const dir = await tempDir();
    const store = new LocalCheckpointStore(dir.path, 10);
    for (let id = 1; id <= 4; id++) await store.write(checkpoint(id));
    await rm(join(dir.path, '005', name(3)));
    await rename(join(dir.path, '005', name(2)), join(dir.path, '005', name(2).replace('0000000000000002.delta', '0000000000000007.delta')));
    const restored = new LocalCheckpointStore(dir.path, 10);
    expect((await restored.restorable(5)).map((c) => c.id)).toEqual([1]);
    expect(restored.problems.map((p) => p.error.message)).toEqual([expect.stringMatching(/not what its name says/), expect.stringMatching(/the checkpoint it applies to \(3\) is missing/)]);
    await dir.remove();
  });

  it('refuses checkpoints of format 1 with an error that says what to do', async () => {
    const dir = await tempDir();
    const store = new LocalCheckpointStore(dir.path);
    await store.write(checkpoint(1));
    await writeFile(join(dir.path, '005', '0000000000000002.ckpt'), Buffer.alloc(60));
    await expect(store.restorable(5)).rejects.toThrow(CheckpointVersionError);
    await expect(store.restorable(5)).rejects.toThrow(/format 1.*Delete the checkpoints directory/);
    await dir.remove();
  });

  it('ignores the temp file of an interrupted write', async () => {
    const dir = await tempDir();
    const store = new LocalCheckpointStore(dir.path);
    await store.write(checkpoint(1));
    await writeFile(join(dir.path, '005', `${name(2)}.tmp`), 'partial');
    expect((await store.restorable(5)).map((c) => c.id)).toEqual([1]);
    await dir.remove();
  });
});
