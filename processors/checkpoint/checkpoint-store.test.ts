import { readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/harness/temp-dir.js';
import { LocalCheckpointStore, type PartitionCheckpoint } from './index.js';

const checkpoint = (id: number, partition = 5): PartitionCheckpoint => ({
  partition,
  id,
  offset: id * 100,
  watermark: 1_700_000_000_000 + id,
  state: new Uint8Array(Array.from({ length: 1000 }, (_, i) => (i * id) & 0xff)),
  createdAtMs: 1_700_000_000_000,
});

describe('LocalCheckpointStore', () => {
  it('round-trips a checkpoint and keeps the newest three', async () => {
    const dir = await tempDir();
    const store = new LocalCheckpointStore(dir.path);
    for (let id = 1; id <= 5; id++) await store.write(checkpoint(id));
    expect(await store.latest(5)).toEqual(checkpoint(5));
    expect((await readdir(join(dir.path, '005'))).sort()).toEqual(['0000000000000003.ckpt', '0000000000000004.ckpt', '0000000000000005.ckpt']);
    expect(await store.latest(6)).toBeUndefined();
    await dir.remove();
  });

  it.each([
    ['a flipped byte', async (file: string) => {
      const bytes = await readFile(file);
      bytes[bytes.length - 3]! ^= 0xff;
      await writeFile(file, bytes);
    }],
    ['a truncated file', async (file: string) => truncate(file, 30)],
    ['an empty file', async (file: string) => truncate(file, 0)],
  ])('falls back to the previous checkpoint past %s, and reports it', async (_name, damage) => {
    const dir = await tempDir();
    const store = new LocalCheckpointStore(dir.path);
    await store.write(checkpoint(1));
    await store.write(checkpoint(2));
    await damage(join(dir.path, '005', '0000000000000002.ckpt'));
    const restored = new LocalCheckpointStore(dir.path);
    expect(await restored.latest(5)).toEqual(checkpoint(1));
    expect(restored.problems).toHaveLength(1);
    expect(restored.problems[0]!.error.code).toBe('SLUICE_CHECKPOINT_CORRUPT');
    expect(restored.problems[0]!.file).toMatch(/0000000000000002\.ckpt$/);
    await dir.remove();
  });

  it('ignores the temp file of an interrupted write', async () => {
    const dir = await tempDir();
    const store = new LocalCheckpointStore(dir.path);
    await store.write(checkpoint(1));
    await writeFile(join(dir.path, '005', '0000000000000002.ckpt.tmp'), 'partial');
    expect((await store.latest(5))!.id).toBe(1);
    await dir.remove();
  });
});
