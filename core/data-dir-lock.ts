/**
 * One process per data directory: the FileLog, the checkpoints and the dead letters belong
 * to one process, and two writing the same files corrupt each other. The lock is
 * `dataDir/sluice.lock`, a symbolic link whose target names the holder:
 * `sluice:<pid>:<start time>:<nonce>` (the Emacs lock-file scheme).
 *
 * Why a symlink and not a file with the pid in it: symlink(2) creates the name and its
 * content in one atomic step and fails with EEXIST when the name exists, so there is never
 * a lock without its holder (no temp file, no link step); and a target this short lives in
 * the inode (ext4 fast symlinks, tmpfs), so a full disk still takes it, and `sluice start`
 * on a full dataDir starts as it did before the lock existed. Node has no flock(2), and a
 * kernel lock would not show an operator the holder's pid.
 *
 * A crash leaves the link behind: a holder that is gone (no such pid, or the pid now
 * belongs to a process started at another time: pid reuse, a container's pid 1 again) is
 * stale and taken over by renaming the link away (only one taker's rename of it succeeds)
 * and creating it afresh. A taker that renamed away a fresh lock (another taker's, made
 * between its read and its rename) puts it back. Storage errors (EROFS) are thrown as they
 * are, for the caller to wait out as it waits out the log.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readlink, rename, symlink, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DataDirLockedError } from './errors.js';

const LOCK_NAME = 'sluice.lock';
/** Locks this process holds, by path: a second runNode on one dataDir in one process is refused too. */
const heldHere = new Set<string>();

interface Holder {
  pid: number;
  /** /proc start time in clock ticks; undefined where /proc is missing. */
  started?: number;
  nonce: string;
}

/** A taken lock; `release()` removes it when it is still ours. */
export interface DataDirLock {
  readonly path: string;
  release(): Promise<void>;
}

/** Takes `dataDir`'s lock, or throws DataDirLockedError naming the live holder's pid. */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const dir = resolve(dataDir);
  const path = join(dir, LOCK_NAME);
  if (heldHere.has(path)) throw new DataDirLockedError(dir, process.pid);
  await mkdir(dir, { recursive: true });
  const me: Holder = { pid: process.pid, started: startTime(process.pid), nonce: randomBytes(8).toString('hex') };
  // Bounded: each round takes the lock, finds a live holder, or removes one stale lock.
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await create(path, me)) {
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

/** `sluice:<pid>:<started or ->:<nonce>`, at most ~50 bytes: short enough to live in the inode. */
function format(holder: Holder): string {
  return `sluice:${holder.pid}:${holder.started ?? '-'}:${holder.nonce}`;
}

async function create(path: string, holder: Holder): Promise<boolean> {
  try {
    await symlink(format(holder), path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** The holder a lock names; 'gone' when there is none, 'garbage' when the name holds something else. */
async function readHolder(path: string): Promise<Holder | 'gone' | 'garbage'> {
  let target: string;
  try {
    target = await readlink(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'gone';
    if (code === 'EINVAL') return 'garbage'; // not a symlink
    throw err;
  }
  const match = /^sluice:(\d+):(\d+|-):([0-9a-f]+)$/.exec(target);
  if (!match) return 'garbage';
  return { pid: Number(match[1]), started: match[2] === '-' ? undefined : Number(match[2]), nonce: match[3]! };
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
  if (typeof moved === 'object' && (stale === 'garbage' || moved.nonce !== stale.nonce)) {
    await symlink(format(moved), path).catch(() => undefined); // a fresh holder's lock: give it back
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

/** Field 22 of /proc/<pid>/stat (start time since boot), counted after the parenthesised command name. */
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
  if (typeof holder === 'object' && holder.nonce === nonce) await unlink(path).catch(() => undefined);
}
