import { mkdir, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkpoint, describeCheckpointStoreContract } from '../../test/checkpoint-store-contract.js';
import { tempDir } from '../../test/harness/temp-dir.js';
import { encodeBundleIndex, sectionOf } from './checkpoint-bundle.js';
import { BUNDLE_NAME, readBundleIndex } from './checkpoint-catalog.js';
import { encodeCheckpoint } from './checkpoint-file.js';
import { CheckpointVersionError, LocalCheckpointStore } from './index.js';

const pad = (n: number, width = 16): string => String(n).padStart(width, '0');
/** The bundle a single write() of checkpoint `id` of partition `partition` makes. */
const bundleName = (id: number, partition = 5): string => `${pad(id)}.${pad(partition, 3)}.bundle`;

/** Every bundle in `dir` with its sections. */
async function bundles(dir: string): Promise<{ file: string; sections: Awaited<ReturnType<typeof readBundleIndex>> }[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => BUNDLE_NAME.test(n)).sort();
  return Promise.all(names.map(async (n) => ({ file: join(dir, n), sections: await readBundleIndex(join(dir, n)) })));
}

describeCheckpointStoreContract('LocalCheckpointStore', async () => {
  const dir = await tempDir();
  /** The bundle holding checkpoint `id` of the contract's partition 5, and that section's place. */
  const sectionOfId = async (id: number) => {
    for (const b of await bundles(dir.path)) {
      const s = b.sections.find((x) => x.partition === 5 && x.id === id);
      if (s) return { file: b.file, s, alone: b.sections.length === 1 };
    }
    throw new Error(`no bundle holds checkpoint ${id} of partition 5 in ${dir.path}`);
  };
  return {
    open: async (keep) => new LocalCheckpointStore(dir.path, keep),
    storedIds: async () =>
      (await bundles(dir.path))
        .flatMap((b) => b.sections)
        .filter((s) => s.partition === 5)
        .map((s) => s.id)
        .sort((a, b) => a - b),
    // The section's bytes are damaged in place, padded or cut to their length: the index
    // stays valid, so what fails is this checkpoint, as with a damaged file or blob.
    damage: async (id, damage) => {
      const { file, s } = await sectionOfId(id);
      const bytes = await readFile(file);
      const damaged = Buffer.alloc(s.length);
      damage(Buffer.from(bytes.subarray(s.position, s.position + s.length))).copy(damaged, 0, 0, s.length);
      damaged.copy(bytes, s.position);
      await writeFile(file, bytes);
    },
    remove: async (id) => {
      const { file, alone } = await sectionOfId(id);
      if (!alone) throw new Error(`${file} holds other checkpoints too`);
      await rm(file);
    },
    location: async (id) => `${(await sectionOfId(id)).file} (partition 5)`,
    destroy: () => dir.remove(),
  };
});

describe('LocalCheckpointStore', () => {
  it('writes one bundle per checkpoint id with every partition added, named by id and first partition, each restorable', async () => {
    const dir = await tempDir();
    const store = new LocalCheckpointStore(dir.path, 3);
    const write = store.begin(1);
    for (const p of [3, 1, 2]) await write.add(checkpoint(1, 4, p));
    expect(await readdir(dir.path)).toEqual([`${bundleName(1, 3)}.tmp`]); // nothing final before the commit
    await write.commit();
    expect(await readdir(dir.path)).toEqual([bundleName(1, 3)]);
    const restored = new LocalCheckpointStore(dir.path, 3);
    for (const p of [1, 2, 3]) expect(await restored.restorable(p)).toEqual([checkpoint(1, 4, p)]);
    expect(await restored.restorable(4)).toEqual([]);
    await dir.remove();
  });

  it('deletes a bundle once retention keeps none of its partitions', async () => {
    const dir = await tempDir();
    const store = new LocalCheckpointStore(dir.path, 1);
    const both = store.begin(1);
    for (const p of [0, 1]) await both.add(checkpoint(1, 1, p));
    await both.commit();
    // Each partition keeps its newest checkpoint and the one before (the fallback, should the newest be corrupt).
    for (const id of [2, 3]) await store.write(checkpoint(id, 1, 0));
    await store.write(checkpoint(4, 1, 1));
    // Partition 0 is done with bundle 1; partition 1 still falls back to it.
    expect((await readdir(dir.path)).sort()).toEqual([bundleName(1, 0), bundleName(2, 0), bundleName(3, 0), bundleName(4, 1)]);
    await store.write(checkpoint(5, 1, 1));
    expect((await readdir(dir.path)).sort()).toEqual([bundleName(2, 0), bundleName(3, 0), bundleName(4, 1), bundleName(5, 1)]);
    expect(await new LocalCheckpointStore(dir.path, 1).restorable(1)).toEqual([checkpoint(5, 1, 1)]);
    await dir.remove();
  });

  it('a bundle cut short (its index gone) is reported; its partitions restore the checkpoints before it', async () => {
    const dir = await tempDir();
    const store = new LocalCheckpointStore(dir.path, 10);
    for (let id = 1; id <= 2; id++) {
      const write = store.begin(id);
      for (const p of [5, 6]) await write.add(checkpoint(id, 4, p));
      await write.commit();
    }
    await truncate(join(dir.path, bundleName(2)), 100);
    const restored = new LocalCheckpointStore(dir.path, 10);
    expect((await restored.restorable(5)).map((c) => c.id)).toEqual([1]);
    expect((await restored.restorable(6)).map((c) => c.id)).toEqual([1]);
    expect(restored.problems.map((p) => [p.file, p.error.code])).toEqual([[join(dir.path, bundleName(2)), 'SLUICE_CHECKPOINT_CORRUPT']]);
    await dir.remove();
  });

  it('reports a section that is not what the index says, and a delta whose base is missing', async () => {
    const dir = await tempDir();
    const store = new LocalCheckpointStore(dir.path, 10);
    for (let id = 1; id <= 4; id++) await store.write(checkpoint(id));
    await rm(join(dir.path, bundleName(3)));
    // Bundle 2's index says checkpoint 2; its section holds checkpoint 6.
    const section = await encodeCheckpoint({ ...checkpoint(2), id: 6, base: 5 });
    await writeFile(join(dir.path, bundleName(2)), Buffer.concat([section, encodeBundleIndex(2, [sectionOf(checkpoint(2), 0, section.length)])]));
    const restored = new LocalCheckpointStore(dir.path, 10);
    expect((await restored.restorable(5)).map((c) => c.id)).toEqual([1]);
    expect(restored.problems.map((p) => p.error.message)).toEqual([expect.stringMatching(/the checkpoint it applies to \(3\) is missing/), expect.stringMatching(/not what the index says/)]);
    await dir.remove();
  });

  it('restores the per-partition files of versions before bundles, trims by them, and deletes them once retention lets them go', async () => {
    const dir = await tempDir();
    const legacy = join(dir.path, '005');
    await mkdir(legacy, { recursive: true });
    await writeFile(join(legacy, `${pad(1)}.full.ckpt`), await encodeCheckpoint(checkpoint(1)));
    await writeFile(join(legacy, `${pad(2)}.delta-${pad(1)}.ckpt`), await encodeCheckpoint(checkpoint(2)));
    const store = new LocalCheckpointStore(dir.path, 2);
    expect(await store.restorable(5)).toEqual([checkpoint(1), checkpoint(2)]);
    expect(await store.trimOffset(5)).toBe(100);
    await store.write(checkpoint(3));
    expect((await readdir(legacy)).length).toBe(2); // 3 rests on 2, 2 on 1
    for (let id = 4; id <= 6; id++) await store.write(checkpoint(id));
    // Full 5 and delta 6 are the newest two; 4 (and its chain) is the fallback; 1 and 2 are in it.
    expect(await readdir(legacy)).toEqual([`${pad(1)}.full.ckpt`, `${pad(2)}.delta-${pad(1)}.ckpt`]);
    await store.write(checkpoint(7));
    await store.write(checkpoint(8));
    await store.write(checkpoint(9)); // full: the fallback is now 5's chain
    expect(await readdir(legacy)).toEqual([]);
    expect((await new LocalCheckpointStore(dir.path, 2).restorable(5)).map((c) => c.id)).toEqual([9]);
    await dir.remove();
  });

  it('refuses checkpoints of format 1 with an error that says what to do', async () => {
    const dir = await tempDir();
    await mkdir(join(dir.path, '005'));
    await writeFile(join(dir.path, '005', '0000000000000002.ckpt'), Buffer.alloc(60));
    const store = new LocalCheckpointStore(dir.path);
    await expect(store.restorable(5)).rejects.toThrow(CheckpointVersionError);
    await expect(store.restorable(5)).rejects.toThrow(/format 1.*Delete the checkpoints directory/);
    await dir.remove();
  });

  it('ignores the temp file of an interrupted write', async () => {
    const dir = await tempDir();
    const store = new LocalCheckpointStore(dir.path);
    await store.write(checkpoint(1));
    await writeFile(join(dir.path, `${bundleName(2)}.tmp`), 'partial');
    expect((await new LocalCheckpointStore(dir.path).restorable(5)).map((c) => c.id)).toEqual([1]);
    await dir.remove();
  });
});
