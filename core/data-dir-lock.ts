/**
 * One process per data directory: the FileLog, the checkpoints and the dead letters belong
 * to one process, and two writing the same files corrupt each other. The lock is the file
 * `dataDir/sluice.lock`, holding the owner's pid, its start time and a random nonce.
 *
 * Taking it: the content is written to a temp file first and hard-linked to the lock name.
 * link(2) fails with EEXIST when the name exists, atomically, so the lock file appears with
 * its content or not at all (an empty lock can only be garbage, never a holder midway).
 * Node has no flock(2), and a kernel lock would not show an operator the holder's pid.
 *
 * A crash leaves the file behind: a holder that is gone (no such pid, or the pid now
 * belongs to a process started at another time: pid reuse, a container's pid 1 again) is
 * stale and taken over by renaming the file away (only one taker's rename of that file
 * succeeds) and taking it afresh. Two takers racing over one stale file can still meet a
 * third's fresh lock between read and rename; the taker checks what it renamed and puts a
 * live lock back. Storage errors (EROFS, ENOSPC) are thrown as they are, for the caller to
 * wait out as it waits out the log.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DataDirLockedError } from './errors.js';

const LOCK_FILE = 'sluice.lock';
/** Locks this process holds, by lock path: a second runNode on one dataDir in one process is refused too. */
const heldHere = new Set<string>();

interface Holder {
  pid: number;
  /** /proc start time in clock ticks; undefined where /proc is missing. */
  started?: number;
  nonce: string;
}

/** A taken lock; `release()` removes the file when it is still ours. */
export interface DataDirLock {
  readonly path: string;
  release(): Promise<void>;
}

/** Takes `dataDir`'s lock, or throws DataDirLockedError naming the live holder's pid. */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const dir = resolve(dataDir);
  const path = join(dir, LOCK_FILE);
  if (heldHere.has(path)) throw new DataDirLockedError(dir, process.pid);
  await mkdir(dir, { recursive: true });
  const me: Holder = { pid: process.pid, started: startTime(process.pid), nonce: randomBytes(8).toString('hex') };
  const text = `${JSON.stringify(me)}\n`;
  // Bounded: each round either takes the lock, finds a live holder, or removes one stale file.
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await linkNew(path, text)) {
      heldHere.add(path);
      return { path, release: () => release(path, me.nonce) };
    }
    const seen = await readHolder(path);
    if (seen === 'gone') continue;
    if (seen !== 'garbage' && isAlive(seen)) throw new DataDirLockedError(dir, seen.pid);
    await takeAway(path, seen);
  }
  const last = await readHolder(path);
  throw new DataDirLockedError(dir, typeof last === 'object' ? last.pid : process.pid);
}

/** Creates the lock file with `text` unless it exists: write a temp file, link it to the name. */
async function linkNew(path: string, text: string): Promise<boolean> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, text, { flag: 'wx', mode: 0o644 });
    await link(temp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

async function readHolder(path: string): Promise<Holder | 'gone' | 'garbage'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw err;
  }
  try {
    const holder = JSON.parse(text) as Holder;
    return Number.isInteger(holder.pid) && typeof holder.nonce === 'string' ? holder : 'garbage';
  } catch {
    return 'garbage';
  }
}

/** Renames a stale lock away; if what was renamed is not what was judged stale, puts it back. */
async function takeAway(path: string, stale: Holder | 'garbage'): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // another taker was first
    throw err;
  }
  const moved = await readHolder(aside);
  if (moved !== 'gone' && moved !== 'garbage' && (stale === 'garbage' || moved.nonce !== stale.nonce)) {
    await link(aside, path).catch(() => undefined); // a fresh holder's lock: give it back
  }
  await unlink(aside).catch(() => undefined);
}

function isAlive(holder: Holder): boolean {
  // Our own pid in a lock we do not hold: a previous life of this pid (a container restart).
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    // EPERM: the pid exists but belongs to another user, so it is alive.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const started = startTime(holder.pid);
  return holder.started === undefined || started === undefined || started === holder.started;
}

/** Field 22 of /proc/<pid>/stat (start time since boot), after the parenthesised command name. */
function startTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const value = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

async function release(path: string, nonce: string): Promise<void> {
  if (!heldHere.delete(path)) return;
  const holder = await readHolder(path).catch(() => 'gone' as const);
  if (holder !== 'gone' && holder !== 'garbage' && holder.nonce === nonce) await unlink(path).catch(() => undefined);
}
