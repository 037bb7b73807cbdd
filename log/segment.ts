/**
 * One commit-log segment file: records of every partition in append order, starting at the
 * global byte position `base`. The newest segment is writable; older ones are sealed.
 */
import { constants } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FsyncFailedError, StorageUnavailableError } from '../core/storage.js';
import { ChunkReader } from './chunk-reader.js';
import { syncDir } from './files.js';
import { HEADER_BYTES, frameCrcMatches, readFrameHeader } from './record.js';

/**
 * O_DSYNC makes a write return only once its data, and the size change that reaches it, are
 * on stable storage: the same guarantee as a write followed by fdatasync, in one call, so
 * a group-commit round is one trip through libuv's thread pool instead of two.
 */
/** Linux's limit on the buffers of one writev(2), where libuv splits a longer one. */
const IOV_MAX = 1024;

function writeFlags(durableWrites: boolean): number {
  return durableWrites ? constants.O_DSYNC : 0;
}

/** Scans read big chunks: they walk whole segments front to back. */
const SCAN_CHUNK_BYTES = 1 << 20;

/** The file name of the segment starting at global position `base`. */
export function segmentFileName(base: number): string {
  return `${String(base).padStart(20, '0')}.seg`;
}

/** The base position named by a segment file name, or undefined for any other file. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = /^(\d{20})\.seg$/.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** Called for each record a scan frames: `ok` is false when its CRC fails (header fields untrusted). */
export type RecordVisitor = (partition: number, offset: number, position: number, ok: boolean) => void;

/** Where a scan stopped: past the last CRC-good record, and where framing ended. */
export interface ScanResult {
  goodEnd: number;
  framedEnd: number;
  fileSize: number;
}

export class Segment {
  /** Shared by the writer and readers; closed when the last user lets go (bounded fd use). */
  private handle: Promise<FileHandle> | null;
  private users: number;
  private writable: boolean;

  private constructor(
    readonly path: string,
    readonly base: number,
    /** Bytes of whole records in the file (the file may briefly hold more while a write runs). */
    public size: number,
    writer?: FileHandle,
    /** Opened O_DSYNC: each write is durable when it returns. */
    private readonly durableWrites = false,
  ) {
    this.handle = writer ? Promise.resolve(writer) : null;
    this.writable = writer !== undefined;
    this.users = this.writable ? 1 : 0;
  }

  /** Global position one past the last record. */
  get end(): number {
    return this.base + this.size;
  }

  /**
   * Creates an empty writable segment and fsyncs the folder so the file survives a crash.
   * `durableWrites`: opened O_DSYNC, so each write returns only once durable (see writeFlags).
   */
  static async create(dir: string, base: number, durableWrites = false): Promise<Segment> {
    const path = join(dir, segmentFileName(base));
    const fh = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | writeFlags(durableWrites));
    try {
      await syncDir(dir);
    } catch (err) {
      // Gone again, so that a retry after a full or read-only disk can create it afresh.
      await fh.close();
      await unlink(path).catch(() => undefined);
      throw err;
    }
    return new Segment(path, base, 0, fh, durableWrites);
  }

  /** A sealed segment whose size is known (the next segment's base minus this one's). */
  static sealed(dir: string, base: number, size: number): Segment {
    return new Segment(join(dir, segmentFileName(base)), base, size);
  }

  /** Opens the newest segment for writing (O_DSYNC with `durableWrites`); its size is settled by `recoverTail`. */
  static async openActive(dir: string, base: number, durableWrites = false): Promise<Segment> {
    const path = join(dir, segmentFileName(base));
    return new Segment(path, base, 0, await open(path, constants.O_RDWR | writeFlags(durableWrites)), durableWrites);
  }

  /**
   * Scans the records from global position `from` to the end of the file, CRC-checking
   * each and handing it to `visit`; stops where framing is lost or the file ends.
   */
  async scan(from: number, visit: RecordVisitor): Promise<ScanResult> {
    return this.withHandle(async (fh) => {
      const fileSize = (await fh.stat()).size;
      const reader = new ChunkReader(fh, this.path, fileSize, SCAN_CHUNK_BYTES, SCAN_CHUNK_BYTES);
      let pos = from - this.base;
      let goodEnd = pos;
      for (;;) {
        // Sync fast path while the chunk holds the bytes: an await per record doubles the scan time.
        const head = fileSize - pos >= HEADER_BYTES ? reader.viewSync(pos, HEADER_BYTES) : undefined;
        const frame = head ? readFrameHeader(head, fileSize - pos) : await reader.frame(pos);
        if (frame.kind !== 'record') break;
        const size = HEADER_BYTES + frame.length;
        const ok = frameCrcMatches(reader.viewSync(pos, size) ?? (await reader.view(pos, size)), frame.crc);
        visit(frame.partition, frame.offset, this.base + pos, ok);
        pos += HEADER_BYTES + frame.length;
        if (ok) goodEnd = pos;
      }
      return { goodEnd: this.base + goodEnd, framedEnd: this.base + pos, fileSize };
    });
  }

  /** Cuts the active segment back to `size` bytes and makes the cut durable. */
  async truncate(size: number): Promise<void> {
    const fh = await this.writer();
    await fh.truncate(size);
    await fh.sync().catch((err: unknown) => {
      throw new FsyncFailedError(this.path, err);
    });
    this.size = size;
  }

  /** Writes `iov` (`bytes` long in all) after the last record with one positional writev. */
  async write(iov: Uint8Array[], bytes: number): Promise<void> {
    const fh = await this.writer();
    // libuv loops over partial writes and IOV_MAX itself; a short count means the device had
    // no room for the rest (POSIX write(2)), which the caller waits out like ENOSPC.
    // Under O_DSYNC every write(2) is a flush, and libuv splits a writev past IOV_MAX into
    // several: a round that long is written from one copy, one flush.
    const { bytesWritten } = await fh.writev(this.durableWrites && iov.length > IOV_MAX ? [Buffer.concat(iov, bytes)] : iov, this.size);
    if (bytesWritten !== bytes) throw new StorageUnavailableError('ENOSPC', `${this.path}: wrote ${bytesWritten} of ${bytes} bytes; the disk is full`);
    this.size += bytes;
  }

  /** Fdatasyncs the file (the size change is covered, which is what appends need). */
  async sync(): Promise<void> {
    const fh = await this.writer();
    await fh.datasync().catch((err: unknown) => {
      throw new FsyncFailedError(this.path, err);
    });
  }

  /** Cuts the active segment back to `size` bytes (a failed round's bytes), without fsync: nothing past `size` was acknowledged. */
  async cut(size: number): Promise<void> {
    await (await this.writer()).truncate(size);
    this.size = size;
  }

  /** Stops writing to this segment; its file closes once no reader uses it. */
  async seal(): Promise<void> {
    if (!this.writable) return;
    this.writable = false;
    await this.release();
  }

  /** Runs `fn` with an open handle on the file (opened on demand, shared, closed after the last user). */
  async withHandle<T>(fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    this.users++;
    try {
      this.handle ??= open(this.path, 'r');
      return await fn(await this.handle);
    } finally {
      await this.release();
    }
  }

  private writer(): Promise<FileHandle> {
    if (!this.writable || this.handle === null) throw new Error(`${this.path} is sealed`);
    return this.handle;
  }

  private async release(): Promise<void> {
    if (--this.users > 0 || this.handle === null) return;
    const handle = this.handle;
    this.handle = null;
    await handle.then(
      (fh) => fh.close(),
      () => undefined,
    );
  }
}
