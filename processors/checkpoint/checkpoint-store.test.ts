import { readdir, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/harness/temp-dir.js';
import { CheckpointVersionError, LocalCheckpointStore, type PartitionCheckpoint } from './index.js';

/** Checkpoint `id` of partition 5: full every `fullEvery` ids (1, 1 + fullEvery, …), else a delta on id − 1. */
const checkpoint = (id: number, fullEvery = 4, partition = 5): PartitionCheckpoint => {
  const full = (id - 1) % fullEvery === 0;
  return {
    partition,
    id,
    kind: full ? 'full' : 'delta',
    base: full ? 0 : id - 1,
    offset: id * 100,
    watermark: 1_700_000_000_000 + id,
    state: new Uint8Array(Array.from({ length: full ? 3000 : 300 }, (_, i) => (i * id) & 0xff)),
    createdAtMs: 1_700_000_000_000,
  };
};
const name = (id: number, fullEvery = 4): string => {
  const c = checkpoint(id, fullEvery);
  const pad = (n: number): string => String(n).padStart(16, '0');
  return c.kind === 'full' ? `${pad(id)}.full.ckpt` : `${pad(id)}.delta-${pad(c.base)}.ckpt`;
};
const files = async (dir: string): Promise<string[]> => (await readdir(join(dir, '005'))).sort();
const ids = (list: string[]): number[] => list.map((f) => Number(f.slice(0, 16)));

describe('LocalCheckpointStore', () => {
  it('round-trips full and delta checkpoints; restorable() is the newest full one and its deltas, in order', async () => {
    const dir = await tempDir();
    const store = new LocalCheckpointStore(dir.path, 3);
    expect(await store.restorable(5)).toEqual([]);
    for (let id = 1; id <= 7; id++) await store.write(checkpoint(id));
    // 5–7 all rest on full 5, so 4 (and its chain) stays as the fallback should 5 be corrupt.
    expect(await files(dir.path)).toEqual([1, 2, 3, 4, 5, 6, 7].map((id) => name(id)));
    expect(await new LocalCheckpointStore(dir.path).restorable(5)).toEqual([5, 6, 7].map((id) => checkpoint(id)));
    expect(await store.restorable(6)).toEqual([]);
    await dir.remove();
  });

  it('keeps the newest `keep` checkpoints, every checkpoint they depend on, and a fallback before their full, and nothing else', async () => {
    const dir = await tempDir();
    const store = new LocalCheckpointStore(dir.path, 3);
    const kept: number[][] = [];
    for (let id = 1; id <= 13; id++) {
      await store.write(checkpoint(id));
      kept.push(ids(await files(dir.path)));
    }
    // fulls at 1, 5, 9, 13; deltas between, each on the one before
    expect(kept).toEqual([
      [1],
      [1, 2],
      [1, 2, 3],
      [1, 2, 3, 4], // 4 → 3 → 2 → 1
      [1, 2, 3, 4, 5], // 3 and 4 still need 1 and 2
      [1, 2, 3, 4, 5, 6], // 4 needs 1–3
      [1, 2, 3, 4, 5, 6, 7], // 5, 6, 7 all rest on full 5: 4 (needing 1–3) is the fallback if 5 is corrupt
      [1, 2, 3, 4, 5, 6, 7, 8],
      [5, 6, 7, 8, 9], // 7 and 8 need 5 and 6; two fulls among the kept, so no fallback is needed
      [5, 6, 7, 8, 9, 10],
      [5, 6, 7, 8, 9, 10, 11], // 9–11 rest on 9: 8 (needing 5–7) is the fallback
      [5, 6, 7, 8, 9, 10, 11, 12],
      [9, 10, 11, 12, 13],
    ]);
    await dir.remove();
  });

  it('trims below the lowest offset any kept checkpoint restores to, once `keep` exist', async () => {
    const dir = await tempDir();
    const store = new LocalCheckpointStore(dir.path, 3);
    const trims: (number | undefined)[] = [];
    for (let id = 1; id <= 11; id++) {
      await store.write(checkpoint(id));
      trims.push(await store.trimOffset(5));
    }
    expect(trims).toEqual([undefined, undefined, 100, 100, 100, 100, 100, 100, 500, 500, 500]);
    expect(await new LocalCheckpointStore(dir.path, 3).trimOffset(5)).toBe(500); // from the files' headers
    expect(await store.trimOffset(6)).toBeUndefined();
    await dir.remove();
  });

  it('with fullEvery 1 behaves like before: the newest three, trimmed below the oldest', async () => {
    const dir = await tempDir();
    const store = new LocalCheckpointStore(dir.path, 3);
    for (let id = 1; id <= 5; id++) await store.write(checkpoint(id, 1));
    expect(await files(dir.path)).toEqual([3, 4, 5].map((id) => name(id, 1)));
    expect(await store.trimOffset(5)).toBe(300);
    expect(await store.restorable(5)).toEqual([checkpoint(5, 1)]);
    await dir.remove();
  });

  it.each([
    ['a flipped byte', async (file: string) => {
      const bytes = await readFile(file);
      bytes[bytes.length - 3]! ^= 0xff;
      await writeFile(file, bytes);
    }],
    ['a flipped header byte', async (file: string) => {
      const bytes = await readFile(file);
      bytes[6]! ^= 0x01; // the kind
      await writeFile(file, bytes);
    }],
    ['a truncated file', async (file: string) => truncate(file, 30)],
    ['an empty file', async (file: string) => truncate(file, 0)],
  ])('past %s in the newest delta, restores the checkpoint before it, and reports it', async (_name, damage) => {
    const dir = await tempDir();
    const store = new LocalCheckpointStore(dir.path);
    for (let id = 1; id <= 3; id++) await store.write(checkpoint(id));
    await damage(join(dir.path, '005', name(3)));
    const restored = new LocalCheckpointStore(dir.path);
    expect(await restored.restorable(5)).toEqual([checkpoint(1), checkpoint(2)]);
    expect(restored.problems).toHaveLength(1);
    expect(restored.problems[0]!.error.code).toBe('SLUICE_CHECKPOINT_CORRUPT');
    expect(restored.problems[0]!.file).toMatch(new RegExp(`${name(3).replace('.', '\\.')}$`));
    await dir.remove();
  });

  it('ends the chain at a corrupt delta: the deltas after it cannot be applied either', async () => {
    const dir = await tempDir();
    const store = new LocalCheckpointStore(dir.path, 10);
    for (let id = 1; id <= 4; id++) await store.write(checkpoint(id));
    await truncate(join(dir.path, '005', name(2)), 100);
    const restored = new LocalCheckpointStore(dir.path, 10);
    expect((await restored.restorable(5)).map((c) => c.id)).toEqual([1]);
    expect(restored.problems.map((p) => p.file.slice(-name(2).length))).toEqual([name(2)]);
    await dir.remove();
  });

  it("falls back past a corrupt full checkpoint to the previous full one's chain", async () => {
    const dir = await tempDir();
    const store = new LocalCheckpointStore(dir.path, 3);
    // 1 (full) 2 3 4, 5 (full) 6 7 8: the newest three rest on 5 alone, and retention keeps 1–4 for this case.
    for (let id = 1; id <= 8; id++) await store.write(checkpoint(id));
    const bytes = await readFile(join(dir.path, '005', name(5)));
    bytes[100]! ^= 0x10;
    await writeFile(join(dir.path, '005', name(5)), bytes);
    const restored = new LocalCheckpointStore(dir.path, 3);
    expect((await restored.restorable(5)).map((c) => c.id)).toEqual([1, 2, 3, 4]);
    expect(restored.problems).toHaveLength(1); // 6–8 are not restorable, but not corrupt themselves
    expect(restored.problems[0]!.file).toMatch(/\.full\.ckpt$/);
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

  it('round-trips a state of several snappy chunks', async () => {
    const dir = await tempDir();
    const store = new LocalCheckpointStore(dir.path);
    const big = { ...checkpoint(1), state: new Uint8Array(3.5 * 2 ** 20).map((_, i) => (i * 7919) % 251) };
    await store.write(big);
    const [back, ...rest] = await store.restorable(5);
    expect(rest).toEqual([]);
    expect({ ...back!, state: undefined }).toEqual({ ...big, state: undefined });
    expect(Buffer.compare(back!.state, big.state)).toBe(0);
    await dir.remove();
  });
});
