/** Positional reads of a segment file through a chunk buffer, for open-time scans. */
import type { FileHandle } from 'node:fs/promises';
import { LogCorruptError } from '../core/errors.js';
import { HEADER_BYTES, readFrameHeader, type FrameHeader } from './record.js';

/**
 * Positional reads through a chunk buffer. Chunks are never reused, so payload views
 * handed to callers stay valid (zero copy) after the next chunk is read.
 */
export class ChunkReader {
  private buf = Buffer.alloc(0);
  private at = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
    private readonly limit: number,
    private chunk: number,
    private readonly maxChunk: number,
  ) {}

  /** Bytes [pos, pos + len) if the current chunk holds them: the scan's fast path, no await. */
  viewSync(pos: number, len: number): Buffer | undefined {
    const off = pos - this.at;
    return off >= 0 && off + len <= this.buf.length ? this.buf.subarray(off, off + len) : undefined;
  }

  /** Bytes [pos, pos + len) of the file; the caller guarantees they lie below `limit`. */
  async view(pos: number, len: number): Promise<Buffer> {
    const held = this.viewSync(pos, len);
    if (held) return held;
    const size = Math.min(Math.max(this.chunk, len), this.limit - pos);
    const buf = Buffer.allocUnsafe(size);
    for (let got = 0; got < size; ) {
      const { bytesRead } = await this.fh.read(buf, got, size - got, pos + got);
      if (bytesRead === 0) throw new LogCorruptError(`${this.path} ends at byte ${pos + got}; expected ${this.limit} bytes`);
      got += bytesRead;
    }
    this.buf = buf;
    this.at = pos;
    this.chunk = Math.min(this.chunk * 2, this.maxChunk);
    return buf.subarray(0, len);
  }

  /** The frame header at `pos`, classified against the bytes left before `limit`. */
  async frame(pos: number): Promise<FrameHeader> {
    const remaining = this.limit - pos;
    if (remaining < HEADER_BYTES) return { kind: 'incomplete' };
    return readFrameHeader(this.viewSync(pos, HEADER_BYTES) ?? (await this.view(pos, HEADER_BYTES)), remaining);
  }
}
