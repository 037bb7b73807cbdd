/**
 * The commit log: one run of segment files in `<dir>/commit/` holding the records of every
 * partition in append order, addressed by global byte position (segment base + position
 * in file). A group-commit round writes with one writev and makes it durable with one
 * fdatasync, however many partitions the round touched; with `durableWrites` (fsync
 * 'batch' and 'always') the writev itself is durable (O_DSYNC) and no fdatasync follows.
 */
import { readdir, unlink } from 'node:fs/promises';
import { isNotFound } from './files.js';
import { HEADER_BYTES, writeHeader } from './record.js';
import { Segment, parseSegmentFileName, type RecordVisitor } from './segment.js';

/** A torn tail cut off the newest commit segment while opening: which file, how many bytes went. */
export interface RecoveryNote {
  segment: string;
  truncatedBytes: number;
}

/** One record of a round: the caller's append, given its position by `write`. */
export interface CommitEntry {
  partition: number;
  offset: number;
  payload: Uint8Array;
  position: number;
}

export class CommitLog {
  /** A segment was sealed since the owner last looked (it checkpoints the indexes then). */
  rolled = false;
  /** Global position one past the last record whose append resolved; reads and deletes stay below. */
  resolvedEnd: number;

  private constructor(
    private readonly dir: string,
    private readonly segmentBytes: number,
    private readonly stats: { fsyncs: number },
    /** Sorted by base; contiguous: each segment ends where the next begins. */
    private segments: Segment[],
    /** The writable segment is opened O_DSYNC: `write` resolves once durable, and `sync` is not needed after it. */
    readonly durableWrites: boolean,
  ) {
    this.resolvedEnd = this.active.end;
  }

  /** The writable (newest) segment. */
  get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  /** Global position where the oldest retained segment starts. */
  get start(): number {
    return this.segments[0]!.base;
  }

  /** Global position one past the last record written. */
  get end(): number {
    return this.active.end;
  }

  /** Lists the segments in `dir` (creating the first one in an empty log); reads no record. `durableWrites`: see the constructor. */
  static async open(dir: string, segmentBytes: number, stats: { fsyncs: number }, durableWrites = false): Promise<CommitLog> {
    const bases = (await readdir(dir))
      .map(parseSegmentFileName)
      .filter((b): b is number => b !== undefined)
      .sort((a, b) => a - b);
    if (bases.length === 0) return new CommitLog(dir, segmentBytes, stats, [await Segment.create(dir, 0, durableWrites)], durableWrites);
    // Sealed segments were fsynced whole before the next one existed, so each one's size
    // is the gap to the next base: no stat, no scan, however many there are.
    const segments = bases.slice(0, -1).map((base, i) => Segment.sealed(dir, base, bases[i + 1]! - base));
    segments.push(await Segment.openActive(dir, bases[bases.length - 1]!, durableWrites));
    return new CommitLog(dir, segmentBytes, stats, segments, durableWrites);
  }

  /**
   * Scans the newest segment fully, CRC-checking every record, and cuts off a torn tail:
   * CRC failures after the last good record are taken for a torn group write (under
   * 'batch'/'always' none of those appends was acknowledged). `visit` sees every framed record.
   */
  async recoverTail(visit: RecordVisitor): Promise<RecoveryNote | undefined> {
    const seg = this.active;
    const { goodEnd, fileSize } = await seg.scan(seg.base, visit);
    const size = goodEnd - seg.base;
    if (size === fileSize) {
      seg.size = size;
    } else {
      await seg.truncate(size);
    }
    this.resolvedEnd = seg.end;
    return size === fileSize ? undefined : { segment: seg.path, truncatedBytes: fileSize - size };
  }

  /**
   * Scans sealed segments from global position `from` up to the newest one. Where framing
   * is lost the rest of that segment is skipped; its records become gaps that reads report.
   */
  async scanSealed(from: number, visit: RecordVisitor): Promise<void> {
    for (const seg of this.segments.slice(0, -1)) {
      if (seg.end <= from) continue;
      await seg.scan(Math.max(from, seg.base), visit);
    }
  }

  /** Writes `entries` in order, rolling segments as they fill, and sets each entry's position. */
  async write(entries: CommitEntry[]): Promise<void> {
    for (let i = 0; i < entries.length; ) {
      if (this.active.size >= this.segmentBytes) await this.roll();
      // Fill the segment up to segmentBytes; the record that crosses it is the last one in.
      const seg = this.active;
      let j = i;
      let bytes = 0;
      while (j < entries.length && seg.size + bytes < this.segmentBytes) bytes += HEADER_BYTES + entries[j++]!.payload.length;
      const headers = Buffer.allocUnsafe(HEADER_BYTES * (j - i));
      const iov = new Array<Uint8Array>(2 * (j - i));
      let pos = seg.end;
      for (let k = i; k < j; k++) {
        const e = entries[k]!;
        const at = (k - i) * HEADER_BYTES;
        writeHeader(headers, at, e.partition, e.offset, e.payload);
        iov[2 * (k - i)] = headers.subarray(at, at + HEADER_BYTES);
        iov[2 * (k - i) + 1] = e.payload;
        e.position = pos;
        pos += HEADER_BYTES + e.payload.length;
      }
      await seg.write(iov, bytes);
      // Counted as the fdatasync it replaces: the stats say how often the disk was made to flush.
      if (this.durableWrites) this.stats.fsyncs++;
      i = j;
    }
  }

  /**
   * Forgets what a failed round wrote at or past global position `pos`; none of it was
   * acknowledged, and the next round writes the same records from memory at the same
   * positions. A roll during that round is undone: the segment it created goes and the
   * one it sealed is reopened for writing. Throws (changing nothing the retry depends
   * on) while the storage still refuses, e.g. a read-only filesystem.
   */
  async rewind(pos: number): Promise<void> {
    while (this.segments.length > 1 && this.active.base > pos) {
      const doomed = this.active;
      const previous = this.segments[this.segments.length - 2]!;
      const reopened = await Segment.openActive(this.dir, previous.base, this.durableWrites);
      reopened.size = previous.size;
      try {
        await doomed.seal();
        await unlink(doomed.path).catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
      } catch (err) {
        await reopened.seal();
        throw err;
      }
      this.segments = [...this.segments.slice(0, -2), reopened];
    }
    // Also when the size did not move: a short write may have left bytes past it.
    await this.active.cut(pos - this.active.base);
  }

  /** Fdatasyncs the active segment: one call covers every record the round wrote to it. */
  async sync(): Promise<void> {
    await this.active.sync();
    this.stats.fsyncs++;
  }

  /** The segment holding global position `pos`, or undefined when it was deleted or lies past the end. */
  segmentAt(pos: number): Segment | undefined {
    const segs = this.segments;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (segs[mid]!.base <= pos) lo = mid;
      else hi = mid - 1;
    }
    const seg = segs[lo];
    return seg !== undefined && pos >= seg.base && pos < seg.end ? seg : undefined;
  }

  /** Deletes sealed segments that end at or below `pos` (never the active one); returns how many went. */
  async deleteBelow(pos: number): Promise<number> {
    const doomed = this.segments.filter((s) => s !== this.active && s.end <= pos);
    if (doomed.length === 0) return 0;
    this.segments = this.segments.filter((s) => !doomed.includes(s));
    for (const s of doomed) {
      await unlink(s.path).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    }
    return doomed.length;
  }

  /** Closes the active segment's file. */
  async close(): Promise<void> {
    await this.active.seal();
  }

  private async roll(): Promise<void> {
    const old = this.active;
    // The full segment is durable before the next one exists, under every policy: recovery
    // then only meets a torn tail in the newest segment, and a sealed segment's size is the
    // gap to the next base. One fsync per segmentBytes is noise even under 'never'.
    await old.sync();
    this.stats.fsyncs++;
    this.segments = [...this.segments, await Segment.create(this.dir, old.end, this.durableWrites)];
    this.rolled = true;
    await old.seal();
  }
}
