/**
 * A read-only data dir must surface as EROFS, a storage condition Sluice waits out, also
 * where a folder has yet to be created: Node's recursive mkdir says ENOENT there, which
 * ended a processor thread whose partition had no checkpoint folder yet.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirectory, storageErrno } from '../core/index.js';
import { LocalCheckpointStore } from '../processors/checkpoint/checkpoint-store.js';
import { checkpoint } from './checkpoint-store-contract.js';
import { canMount, mountSmallDisk, type SmallDisk } from './harness/small-disk.js';
import { tempDir } from './harness/temp-dir.js';

describe.skipIf(!canMount)('folders on a read-only data dir', () => {
  let disk: SmallDisk;
  let data: string;
  beforeAll(async () => {
    disk = await mountSmallDisk(4);
    data = join(disk.path, 'data');
    await makeDirectory(join(data, 'checkpoints', '001'));
    await disk.overmountReadOnly(data);
  });
  afterAll(async () => {
    await disk.removeOvermount(data);
    await disk.remove();
  });

  it('makeDirectory fails with EROFS where recursive mkdir says ENOENT', async () => {
    const missing = join(data, 'checkpoints', '049', 'deeper');
    await expect(mkdir(missing, { recursive: true })).rejects.toMatchObject({ code: 'ENOENT' });
    const err = await makeDirectory(missing).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(storageErrno(err)).toBe('EROFS');
    await expect(makeDirectory(join(data, 'checkpoints', '001'))).resolves.toBeUndefined(); // there already
  });

  it('a checkpoint into a folder not made yet is refused with EROFS, to be waited out', async () => {
    const store = new LocalCheckpointStore(join(data, 'checkpoints', 'not-made-yet'));
    const err = await store.write(checkpoint(1, 4, 49)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(storageErrno(err)).toBe('EROFS');
  });
});

describe('makeDirectory', () => {
  it('creates missing parents and accepts a folder that exists', async () => {
    const dir = await tempDir('sluice-make-directory-');
    try {
      const deep = join(dir.path, 'a', 'b', 'c');
      await makeDirectory(deep);
      await makeDirectory(deep);
      await expect(mkdir(deep)).rejects.toMatchObject({ code: 'EEXIST' });
    } finally {
      await dir.remove();
    }
  });
});
