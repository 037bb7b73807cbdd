import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces `path` with `data` so that a crash leaves either the old file or the new one,
 * never a torn mix: write a temp file in the same directory (rename is only atomic within
 * a file system), fsync it, rename it over the target, then fsync the directory so the
 * rename itself survives a power cut.
 */
export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.${basename(path)}.${randomUUID()}.tmp`);
  try {
    // 'wx': never follow or reuse something already at the temp path.
    const file = await open(temp, 'wx', mode);
    try {
      await file.writeFile(data, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dir);
}

/** fsyncs a directory; some platforms cannot, and there the rename is as durable as it gets. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // EISDIR/EPERM/EINVAL on platforms without directory fsync: nothing more we can do.
  } finally {
    await handle?.close();
  }
}
