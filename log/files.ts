/** Small file helpers shared by the log's metadata (meta.json, trim.json, checkpoint.json), segments and indexes. */
import { open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { z } from 'zod';
import { LogCorruptError } from '../core/errors.js';
import { StorageUnavailableError } from '../core/storage.js';

/** Fsyncs a directory so a file created, renamed or removed in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Replaces `path` with `value` as JSON so that a crash leaves either the old or the new
 * file, never a half-written one: write a temp file, fsync it, rename, fsync the dir.
 */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify(value) + '\n');
    await fh.sync();
  } catch (err) {
    // The temp file is written afresh next time, so a failed fsync of it is safe to retry;
    // removing it gives back what it took on a full disk.
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
  await syncDir(dirname(path));
}

/** Parsed JSON at `path`, or undefined when the file does not exist. */
export async function readJsonIfExists(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as unknown;
}

/** True when `err` is a missing-file error. */
export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** Bytes [pos, pos + len) of an open file; a file that ends sooner is damaged. */
export async function preadFully(fh: FileHandle, pos: number, len: number, path: string): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(len);
  for (let got = 0; got < len; ) {
    const { bytesRead } = await fh.read(buf, got, len - got, pos + got);
    if (bytesRead === 0) throw new LogCorruptError(`${path} ends at byte ${pos + got}; expected at least ${pos + len} bytes`);
    got += bytesRead;
  }
  return buf;
}

/** Writes all of `buf` at `pos`; a short write is a failure (disk full, I/O error). */
export async function pwriteFully(fh: FileHandle, buf: Uint8Array, pos: number, path: string): Promise<void> {
  const { bytesWritten } = await fh.write(buf, 0, buf.length, pos);
  if (bytesWritten !== buf.length) throw new StorageUnavailableError('ENOSPC', `${path}: wrote ${bytesWritten} of ${buf.length} bytes; the disk is full`);
}

/** The JSON at `path` checked against `schema`, or undefined when the file does not exist. */
export async function readJsonChecked<T>(path: string, schema: z.ZodType<T>, expected: string): Promise<T | undefined> {
  let value: unknown;
  try {
    value = await readJsonIfExists(path);
  } catch (cause) {
    throw new LogCorruptError(`${path} is not valid JSON`, { cause });
  }
  if (value === undefined) return undefined;
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new LogCorruptError(`${path} should hold ${expected}; found ${JSON.stringify(value)}`);
  return parsed.data;
}
