/**
 * A small tmpfs of its own, to provoke real ENOSPC and EROFS without touching the
 * machine's disks: `mount -t tmpfs` needs root, which CI has (tests skip without it).
 * chmod cannot make a folder read-only for root; a remount can.
 */
import { execFile } from 'node:child_process';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './temp-dir.js';

const run = promisify(execFile);

/** Whether this process may mount filesystems (root); tests that need it skip otherwise. */
export const canMount = process.getuid?.() === 0;

export interface SmallDisk {
  path: string;
  /** Writes a filler file until the filesystem refuses with ENOSPC: no page is left. */
  fill(): Promise<void>;
  /** Deletes the filler: the space comes back. */
  free(): Promise<void>;
  /** Remounts read-only (writes then fail with EROFS) or read-write again; refused while a file is open for writing. */
  readOnly(): Promise<void>;
  readWrite(): Promise<void>;
  /**
   * Mounts `folder` read-only over itself: what is opened from now on is read-only (EROFS),
   * files already open for writing stay writable, as on a remount that cannot wait for them.
   */
  overmountReadOnly(folder: string): Promise<void>;
  /** Takes the read-only overmount of `folder` away. */
  removeOvermount(folder: string): Promise<void>;
  /** Unmounts and removes the mount point. */
  remove(): Promise<void>;
}

/** Mounts a tmpfs of `sizeMb` MiB on a fresh temp folder. */
export async function mountSmallDisk(sizeMb: number): Promise<SmallDisk> {
  const dir = await tempDir('sluice-small-disk-');
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir.path]);
  const filler = join(dir.path, 'filler');
  return {
    path: dir.path,
    fill: async () => {
      const fh = await open(filler, 'a');
      try {
        // Big chunks first, then pages: tmpfs hands out whole pages, so a refused page means none is left.
        for (const chunk of [Buffer.alloc(1 << 20, 1), Buffer.alloc(4096, 1)]) {
          for (;;) {
            const ok = await fh.write(chunk).then(
              ({ bytesWritten }) => bytesWritten === chunk.length,
              (err: NodeJS.ErrnoException) => {
                if (err.code !== 'ENOSPC') throw err;
                return false;
              },
            );
            if (!ok) break;
          }
        }
      } finally {
        await fh.close();
      }
    },
    free: () => rm(filler, { force: true }),
    readOnly: async () => {
      await run('mount', ['-o', 'remount,ro', dir.path]);
    },
    readWrite: async () => {
      await run('mount', ['-o', 'remount,rw', dir.path]);
    },
    overmountReadOnly: async (folder) => {
      await run('mount', ['--bind', '-o', 'ro', folder, folder]);
    },
    removeOvermount: async (folder) => {
      await run('umount', [folder]);
    },
    remove: async () => {
      await run('umount', ['-R', '-l', dir.path]).catch(() => undefined);
      await dir.remove();
    },
  };
}
