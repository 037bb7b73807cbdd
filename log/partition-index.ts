/**
 * One partition's index, `<dir>/index/<ppp>.idx`: a 16-byte header [u32 magic][u32 version]
 * [u64 base offset], then one u64 LE commit-log position per record, entry i ↔ offset
 * base + i. Entries are appended lazily and never fsynced on the append path: checkpoints
 * make them durable (index-set.ts) and open repairs the rest from the commit log.
 *
 * Recent entries stay in memory (`tail`), older ones are pread from the file. The whole
 * index is not kept in memory because a gateway without processors never trims, so it
 * would grow without bound; the tail is bounded by FLUSH_ENTRIES + KEEP_ENTRIES per partition.
 */
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { SluiceError } from '../core/errors.js';
import { FsyncFailedError } from '../core/storage.js';
import { isNotFound, preadFully, pwriteFully } from './files.js';
import { readU64, writeU64 } from './record.js';

const MAGIC = 0x58494c53; // "SLIX"
const VERSION = 1;
const HEADER = 16;
const ENTRY = 8;
/** In-memory marker for an offset whose record the commit log lost; stored as u64 all-ones. */
export const MISSING = -1;
/** Flush once this many entries wait: one 4 KiB write instead of one per record. */
export const FLUSH_ENTRIES = 512;
/** Entries kept in memory after they reached the file, so consumers at the head never pread. */
const KEEP_ENTRIES = 512;
const COPY_ENTRIES = 128 * 1024;

/** One version of the index file; a compaction swaps in a new one while reads finish on the old. */
class IndexFile {
  private users = 1;
  constructor(
    readonly path: string,
    readonly fh: FileHandle,
    readonly base: number,
  ) {}
  acquire(): this {
    if (this.users === 0) throw new SluiceError('SLUICE_LOG_CLOSED', `${this.path} is closed`);
    this.users++;
    return this;
  }
  async release(): Promise<void> {
    if (--this.users === 0) await this.fh.close();
  }
}

export class PartitionIndex {
  /** Entries in the file, from `base`. */
  private fileEntries: number;
  /** Positions of offsets [tailBase, end); covers every entry not yet in the file. */
  private tail: number[] = [];
  private tailBase: number;
  private dirty: boolean;
  /** The header no longer names `base` (moved while empty); rewritten before the next flush. */
  headerStale = false;
  /** A flush of this index is queued (index-set.ts). */
  flushDue = false;
  /** The offset a trim made worth compacting to; the next checkpoint rewrites the file to start there. */
  compactTo: number | undefined;

  private constructor(
    readonly path: string,
    private file: IndexFile,
    entries: number,
    created: boolean,
  ) {
    this.fileEntries = entries;
    this.tailBase = file.base + entries;
    this.dirty = created;
  }

  /** Opens the index at `path`; a missing or unreadable one is recreated empty from `fallbackBase`. */
  static async open(path: string, fallbackBase: number): Promise<{ index: PartitionIndex; rebuilt: boolean }> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r+');
    } catch (err) {
      if (!isNotFound(err)) throw err;
      fh = await open(path, 'w+');
    }
    try {
      const size = (await fh.stat()).size;
      const head = Buffer.alloc(HEADER);
      if (size >= HEADER) await fh.read(head, 0, HEADER, 0);
      if (head.readUInt32LE(0) === MAGIC && head.readUInt32LE(4) === VERSION) {
        const entries = Math.floor((size - HEADER) / ENTRY);
        return { index: new PartitionIndex(path, new IndexFile(path, fh, readU64(head, 8)), entries, false), rebuilt: false };
      }
      await fh.truncate(0);
      await pwriteFully(fh, header(fallbackBase), 0, path);
      return { index: new PartitionIndex(path, new IndexFile(path, fh, fallbackBase), 0, true), rebuilt: true };
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Offset of the first entry. */
  get base(): number {
    return this.file.base;
  }

  /** One past the last entry's offset: the partition's readable end. */
  get end(): number {
    return this.tailBase + this.tail.length;
  }

  /** Entries waiting for the file. */
  get unflushed(): number {
    return this.end - (this.file.base + this.fileEntries);
  }

  /** Adds the entry for offset `end` (MISSING for a record the commit log lost). */
  add(position: number): void {
    this.tail.push(position);
  }

  /** Moves an empty index to start at `offset` (its records below were trimmed away); sync, for open. */
  moveEmptyBase(offset: number): void {
    if (this.end !== this.base) throw new Error(`${this.path}: cannot move the base of a non-empty index`);
    this.file = new IndexFile(this.path, this.file.fh, offset);
    this.tailBase = offset;
    this.headerStale = true;
  }

  /** The position of `offset` (base ≤ offset < end). */
  async entryAt(offset: number): Promise<number> {
    return (await this.positions(offset, 1))[0]!;
  }

  /** Positions of offsets [from, from + n), which the caller keeps within [base, end). */
  async positions(from: number, n: number): Promise<number[]> {
    const out = new Array<number>(n);
    for (let o = Math.max(from, this.tailBase); o < from + n; o++) out[o - from] = this.tail[o - this.tailBase]!;
    if (from >= this.tailBase) return out;
    // Everything below tailBase is in the file version we hold, even if a compaction swaps it.
    const file = this.file.acquire();
    try {
      const count = Math.min(from + n, this.tailBase) - from;
      const buf = await preadFully(file.fh, HEADER + ENTRY * (from - file.base), ENTRY * count, this.path);
      for (let i = 0; i < count; i++) out[i] = decode(buf, i * ENTRY);
    } finally {
      await file.release();
    }
    return out;
  }

  /** Appends the waiting entries to the file (no fsync), then drops all but the newest from memory. */
  async flush(): Promise<void> {
    const from = this.file.base + this.fileEntries;
    const n = this.end - from;
    if (n <= 0) return;
    const buf = Buffer.allocUnsafe(ENTRY * n);
    for (let i = 0; i < n; i++) encode(buf, i * ENTRY, this.tail[from - this.tailBase + i]!);
    await pwriteFully(this.file.fh, buf, HEADER + ENTRY * this.fileEntries, this.path);
    this.fileEntries += n;
    this.dirty = true;
    const keepFrom = Math.min(from + n, this.end - KEEP_ENTRIES);
    if (keepFrom > this.tailBase) {
      this.tail.splice(0, keepFrom - this.tailBase);
      this.tailBase = keepFrom;
    }
  }

  /** Fdatasyncs the file if it changed since the last sync; says whether it did. */
  async sync(): Promise<boolean> {
    if (!this.dirty) return false;
    this.dirty = false;
    await this.file.fh.datasync().catch((err: unknown) => {
      throw new FsyncFailedError(this.path, err);
    });
    return true;
  }

  /** Drops every entry from `offset` on, in memory and in the file (open-time repair). */
  async truncateFrom(offset: number): Promise<void> {
    if (offset >= this.end) return;
    if (offset >= this.tailBase) {
      this.tail.length = offset - this.tailBase;
    } else {
      this.tail = [];
      this.tailBase = offset;
    }
    if (offset < this.file.base + this.fileEntries) {
      this.fileEntries = offset - this.file.base;
      await this.file.fh.truncate(HEADER + ENTRY * this.fileEntries);
      this.dirty = true;
    }
  }

  /**
   * Replaces the file with one starting at `newBase` (≥ base), holding the entries the old
   * file had from there; written to a temp file, fdatasynced and renamed, so a crash leaves
   * either file whole. The caller fsyncs the folder. Reads still using the old file finish on it.
   */
  async rewrite(newBase: number): Promise<void> {
    const old = this.file;
    const oldEnd = this.headerStale ? newBase : old.base + this.fileEntries;
    const kept = Math.max(0, oldEnd - newBase);
    const tmp = `${this.path}.tmp`;
    const fh = await open(tmp, 'w+');
    try {
      await pwriteFully(fh, header(newBase), 0, tmp);
      for (let i = 0; i < kept; i += COPY_ENTRIES) {
        const n = Math.min(COPY_ENTRIES, kept - i);
        const chunk = await preadFully(old.fh, HEADER + ENTRY * (newBase - old.base + i), ENTRY * n, this.path);
        await pwriteFully(fh, chunk, HEADER + ENTRY * i, tmp);
      }
      await fh.datasync();
      await rename(tmp, this.path);
    } catch (err) {
      await fh.close();
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    this.file = new IndexFile(this.path, fh, newBase);
    this.fileEntries = kept;
    this.headerStale = false;
    this.dirty = false;
    if (newBase > this.tailBase) {
      this.tail.splice(0, newBase - this.tailBase);
      this.tailBase = newBase;
    }
    await old.release();
  }

  /** Closes the file (reads in progress finish first). */
  async close(): Promise<void> {
    await this.file.release();
  }
}

function header(base: number): Buffer {
  const buf = Buffer.alloc(HEADER);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(VERSION, 4);
  writeU64(buf, 8, base);
  return buf;
}

function encode(buf: Buffer, at: number, position: number): void {
  if (position === MISSING) buf.fill(0xff, at, at + ENTRY);
  else writeU64(buf, at, position);
}

function decode(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at + 4) === 0xffffffff ? MISSING : readU64(buf, at);
}
