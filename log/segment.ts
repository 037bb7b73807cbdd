/**
 * One segment file: a run of framed records starting at `baseOffset`, with a sparse
 * in-memory index (offset → byte position) built while scanning or appending.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { LogCorruptError } from '../core/errors.js';
import { ChunkReader } from './chunk-reader.js';
import { syncDir } from './files.js';
import type { LogRecord } from './log.js';
import { HEADER_BYTES, crcMatches, writeHeader } from './record.js';

/** One index entry per this many bytes of records: a small index and short forward scans. */
const INDEX_INTERVAL_BYTES = 4096;
/** Open scans read big chunks; reads start small (callers often want a few records) and grow. */
const SCAN_CHUNK_BYTES = 1 << 20;
const READ_CHUNK_MIN_BYTES = 64 * 1024;
const READ_CHUNK_MAX_BYTES = 4 << 20;

/** The file name of the segment whose first record has offset `base`. */
export function segmentFileName(base: number): string {
  return `${String(base).padStart(20, '0')}.seg`;
}

/** The base offset named by a segment file name, or undefined for any other file. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = /^(\d{20})\.seg$/.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** What opening an existing segment found: the segment and how many torn bytes were cut. */
export interface LoadedSegment {
  segment: Segment;
  truncatedBytes: number;
}

/** A segment file; the last one of a partition is writable, the others are sealed. */
export class Segment {
  /** Bytes of whole records (the file may briefly hold more while a write runs). */
  size = 0;
  /** Records in the file that framed correctly. */
  count = 0;
  /** Written since the last fsync. */
  dirty = false;
  private readonly idxOffsets: number[] = [];
  private readonly idxPositions: number[] = [];
  private lastIndexed = -INDEX_INTERVAL_BYTES;
  /** Shared by the writer and readers; closed when the last user lets go (bounded fd use). */
  private handle: Promise<FileHandle> | null;
  private users: number;
  private writable: boolean;

  private constructor(
    readonly path: string,
    readonly baseOffset: number,
    writer?: FileHandle,
  ) {
    this.handle = writer ? Promise.resolve(writer) : null;
    this.writable = writer !== undefined;
    this.users = this.writable ? 1 : 0;
  }

  /** One past the offset of the last record. */
  get endOffset(): number {
    return this.baseOffset + this.count;
  }

  /** Creates an empty writable segment; `durable` fsyncs the folder so the file survives a crash. */
  static async create(dir: string, base: number, durable: boolean): Promise<Segment> {
    const path = join(dir, segmentFileName(base));
    const fh = await open(path, 'wx+');
    if (durable) await syncDir(dir);
    return new Segment(path, base, fh);
  }

  /**
   * Opens and scans an existing segment. The last one is CRC-checked and its torn tail cut
   * off; older ones are only framed (their CRCs are checked when read).
   */
  static async load(path: string, base: number, last: boolean): Promise<LoadedSegment> {
    const fh = await open(path, last ? 'r+' : 'r');
    try {
      const segment = new Segment(path, base, last ? fh : undefined);
      const truncatedBytes = await segment.scan(fh, last);
      if (!last) await fh.close();
      return { segment, truncatedBytes };
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  private async scan(fh: FileHandle, last: boolean): Promise<number> {
    const fileSize = (await fh.stat()).size;
    const reader = new ChunkReader(fh, this.path, fileSize, last ? SCAN_CHUNK_BYTES : 64 * 1024, SCAN_CHUNK_BYTES);
    let pos = 0;
    let goodEnd = 0;
    let goodCount = 0;
    for (;;) {
      const frame = await reader.frame(pos);
      if (frame.kind !== 'record') break;
      const ok = !last || crcMatches(frame.crc, await reader.view(pos + HEADER_BYTES, frame.length));
      this.noteRecord(pos);
      pos += HEADER_BYTES + frame.length;
      this.count++;
      if (ok) [goodEnd, goodCount] = [pos, this.count];
    }
    this.size = pos;
    // Records lost to broken framing in a sealed segment leave a gap before the next
    // segment's base; reads there raise LogCorruptError (partition.ts) rather than skip.
    if (!last) return 0;
    // In the last segment, CRC failures after the last good record are taken for a torn
    // group write: under 'batch'/'always' none of those appends was acknowledged.
    this.count = goodCount;
    this.size = goodEnd;
    while (this.idxOffsets.length > 0 && this.idxOffsets[this.idxOffsets.length - 1] >= this.endOffset) {
      this.idxOffsets.pop();
      this.idxPositions.pop();
    }
    this.lastIndexed = this.idxPositions[this.idxPositions.length - 1] ?? -INDEX_INTERVAL_BYTES;
    if (goodEnd === fileSize) return 0;
    await fh.truncate(goodEnd);
    await fh.sync();
    return fileSize - goodEnd;
  }

  private noteRecord(pos: number): void {
    if (pos - this.lastIndexed < INDEX_INTERVAL_BYTES) return;
    this.idxOffsets.push(this.endOffset);
    this.idxPositions.push(pos);
    this.lastIndexed = pos;
  }

  /** Writes `entries[from..to)` after the last record with one positional writev. */
  async write(entries: readonly { payload: Uint8Array }[], from: number, to: number): Promise<void> {
    const n = to - from;
    const headers = Buffer.allocUnsafe(HEADER_BYTES * n);
    const iov: Uint8Array[] = new Array<Uint8Array>(2 * n);
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const payload = entries[from + i].payload;
      writeHeader(headers, i * HEADER_BYTES, payload);
      iov[2 * i] = headers.subarray(i * HEADER_BYTES, (i + 1) * HEADER_BYTES);
      iov[2 * i + 1] = payload;
      bytes += HEADER_BYTES + payload.length;
    }
    const fh = await this.writer();
    // libuv loops over partial writes and IOV_MAX itself; a short count means a real failure.
    const { bytesWritten } = await fh.writev(iov, this.size);
    if (bytesWritten !== bytes) throw new Error(`${this.path}: wrote ${bytesWritten} of ${bytes} bytes`);
    this.dirty = true;
    let pos = this.size;
    for (let i = 0; i < n; i++) {
      this.noteRecord(pos);
      pos += HEADER_BYTES + entries[from + i].payload.length;
      this.count++;
    }
    this.size = pos;
  }

  /** Fdatasyncs the file (the size change is covered, which is what appends need). */
  async sync(): Promise<void> {
    const fh = await this.writer();
    this.dirty = false;
    await fh.datasync();
  }

  /** Stops writing to this segment; its file closes once no reader uses it. */
  async seal(): Promise<void> {
    if (!this.writable) return;
    this.writable = false;
    await this.release();
  }

  /** Pushes records [from, until) onto `out`, stopping at `max` records; checks every CRC. */
  async read(from: number, until: number, max: number, out: LogRecord[]): Promise<void> {
    if (from >= until || out.length >= max) return;
    const i = this.floorIndex(from);
    let offset = this.idxOffsets[i];
    let pos = this.idxPositions[i];
    await this.withHandle(async (fh) => {
      const reader = new ChunkReader(fh, this.path, this.size, READ_CHUNK_MIN_BYTES, READ_CHUNK_MAX_BYTES);
      while (offset < until && out.length < max) {
        const frame = await reader.frame(pos);
        if (frame.kind !== 'record') {
          throw new LogCorruptError(`${this.path}: record ${offset} at byte ${pos} has a broken header (${frame.kind})`);
        }
        if (offset >= from) {
          const payload = await reader.view(pos + HEADER_BYTES, frame.length);
          if (!crcMatches(frame.crc, payload)) {
            throw new LogCorruptError(
              `${this.path}: record ${offset} at byte ${pos} fails its CRC check; restore the file from a replica or backup, or skip to offset ${offset + 1}`,
            );
          }
          out.push({ offset, payload });
        }
        pos += HEADER_BYTES + frame.length;
        offset++;
      }
    });
  }

  /** Index of the last sparse-index entry at or below `offset`. */
  private floorIndex(offset: number): number {
    let lo = 0;
    let hi = this.idxOffsets.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.idxOffsets[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private writer(): Promise<FileHandle> {
    if (!this.writable || this.handle === null) throw new Error(`${this.path} is sealed`);
    return this.handle;
  }

  private async withHandle<T>(fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    this.users++;
    try {
      this.handle ??= open(this.path, 'r');
      return await fn(await this.handle);
    } finally {
      await this.release();
    }
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
