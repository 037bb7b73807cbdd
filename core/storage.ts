/**
 * Storage conditions an operator can end (a full disk, a quota, a read-only remount), as
 * opposed to bugs and broken hardware. Sluice waits them out: it refuses no data it
 * acknowledged, acknowledges nothing it could not write, retries with backoff and
 * resumes by itself. Anything else still fails loudly.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SluiceError } from './errors.js';

/** errno codes that say "not now" rather than "never": ENOSPC (disk full), EDQUOT (quota), EROFS (read-only). */
const STORAGE_ERRNOS = new Set(['ENOSPC', 'EDQUOT', 'EROFS']);

/**
 * The errno when `err` is a storage condition worth waiting out, else undefined. Looks at
 * `code` only, not at causes: a failed fsync is wrapped on purpose so that it is not
 * retried (the kernel may have dropped the pages it could not write).
 */
export function storageErrno(err: unknown): string | undefined {
  if (err instanceof StorageUnavailableError) return err.errno;
  const code = (err as { code?: unknown } | null | undefined)?.code;
  // Crossed a thread as a plain SluiceError: the code survives, the class does not.
  if (code === 'SLUICE_STORAGE_UNAVAILABLE') return 'ENOSPC';
  return typeof code === 'string' && STORAGE_ERRNOS.has(code) ? code : undefined;
}

/** Storage refuses writes for now (disk full, quota, read-only); the same call may succeed once it is fixed. */
export class StorageUnavailableError extends SluiceError {
  constructor(
    readonly errno: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super('SLUICE_STORAGE_UNAVAILABLE', message, { ...options, canRetry: true });
  }
}

/** A file's fsync failed: its data may be lost in the page cache, so the write is never retried on the same pages. */
export class FsyncFailedError extends SluiceError {
  constructor(path: string, cause: unknown) {
    super('SLUICE_FSYNC_FAILED', `fsync of ${path} failed (${(cause as Error).message}); the data written since the last fsync may be lost, restart to recover from the files`, { cause });
  }
}

/**
 * Creates `dir` and any missing parents, failing with the errno that stopped it. Node's
 * `mkdir(dir, { recursive: true })` fails with ENOENT on a read-only filesystem (Node 20,
 * measured), which reads as a bug, not as EROFS to wait out: a checkpoint of a partition
 * with no folder yet then ended its processor thread.
 */
export async function makeDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw err;
    await makeDirectory(parent);
    await mkdir(dir).catch((again: NodeJS.ErrnoException) => {
      if (again.code !== 'EEXIST') throw again;
    });
  }
}
