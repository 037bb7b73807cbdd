/**
 * One partition of the file log: its segments, offsets, pending appends, reads and trims.
 * The group-commit loop in file-log.ts drives writePending / sync / commit.
 */
import { mkdir, readdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { LogCorruptError, LogOffsetError } from '../core/errors.js';
import { isNotFound, readJsonIfExists, syncDir, writeJsonAtomic } from './files.js';
import type { FsyncPolicy, LogRecord } from './log.js';
import { HEADER_BYTES } from './record.js';
import { Segment, parseSegmentFileName, segmentFileName } from './segment.js';

/** A torn tail cut off while opening: which segment, and how many bytes went. */
export interface RecoveryNote {
  partition: number;
  segment: string;
  truncatedBytes: number;
}

/** An append waiting to be written and made durable. */
export interface Pending {
  payload: Uint8Array;
  offset: number;
  resolve: (offset: number) => void;
  reject: (err: unknown) => void;
}

/** What a partition needs from its log. */
export interface PartitionContext {
  partition: number;
  dir: string;
  fsync: FsyncPolicy;
  segmentBytes: number;
  stats: { fsyncs: number };
}

const trimFileSchema = z.object({ startOffset: z.number().int().nonnegative() });

export class Partition {
  /** Appends not yet handed to a write round. */
  pending: Pending[] = [];
  /** Appends written in the current round, waiting for its fsync. */
  private inFlight: Pending[] = [];
  /** The offset the next append gets. */
  nextOffset: number;
  /** One past the last record whose append resolved; reads stop here, so they never see data a crash could take back. */
  readableEnd: number;
  private trimming: Promise<void> = Promise.resolve();

  private constructor(
    private readonly ctx: PartitionContext,
    private segments: Segment[],
    private active: Segment,
    public startOffset: number,
  ) {
    this.nextOffset = active.endOffset;
    this.readableEnd = active.endOffset;
  }

  /** Opens (or creates) the partition folder, recovering the last segment's torn tail. */
  static async open(ctx: PartitionContext, recovery: RecoveryNote[]): Promise<Partition> {
    // A new folder's own entry must reach disk too, or a crash can lose the whole partition.
    const created = await mkdir(ctx.dir, { recursive: true });
    if (created !== undefined && ctx.fsync !== 'never') await syncDir(dirname(ctx.dir));
    const trimmedTo = await readTrimFile(join(ctx.dir, 'trim.json'));
    const bases = (await readdir(ctx.dir))
      .map(parseSegmentFileName)
      .filter((b): b is number => b !== undefined)
      .sort((a, b) => a - b);
    let start = Math.max(trimmedTo ?? 0, bases[0] ?? 0);
    // Left behind when a crash came between writing trim.json and unlinking.
    while (bases.length > 1 && bases[1] <= start) await unlink(join(ctx.dir, segmentFileName(bases.shift()!)));
    let segments: Segment[] = [];
    try {
      for (const [i, base] of bases.entries()) {
        const loaded = await Segment.load(join(ctx.dir, segmentFileName(base)), base, i === bases.length - 1);
        segments.push(loaded.segment);
        if (loaded.truncatedBytes > 0) {
          recovery.push({ partition: ctx.partition, segment: loaded.segment.path, truncatedBytes: loaded.truncatedBytes });
        }
      }
      for (let i = 0; i + 1 < segments.length; i++) {
        if (segments[i].endOffset > segments[i + 1].baseOffset) {
          throw new LogCorruptError(`${segments[i].path} holds records past ${segments[i + 1].path} starts; the segments overlap`);
        }
      }
      const last = segments[segments.length - 1];
      if (last === undefined || last.endOffset < start) {
        // A fresh partition, or trim.json ahead of the data (a crash under fsync 'never'
        // can lose records a trim had passed): everything on disk is below the start.
        for (const s of segments) await s.seal().then(() => unlink(s.path));
        segments = [await Segment.create(ctx.dir, start, ctx.fsync !== 'never')];
      }
    } catch (err) {
      await Promise.all(segments.map((s) => s.seal()));
      throw err;
    }
    start = Math.max(start, segments[0].baseOffset);
    return new Partition(ctx, segments, segments[segments.length - 1], start);
  }

  /** Writes every pending append (rolling segments as they fill); they wait in flight for sync + commit. */
  async writePending(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.inFlight = batch;
    for (let i = 0; i < batch.length; ) {
      if (this.active.size >= this.ctx.segmentBytes) await this.roll();
      // Fill the segment up to segmentBytes; the record that crosses it is the last one in.
      let bytes = this.active.size;
      let j = i;
      while (j < batch.length && bytes < this.ctx.segmentBytes) bytes += HEADER_BYTES + batch[j++].payload.length;
      await this.active.write(batch, i, j);
      i = j;
    }
  }

  private async roll(): Promise<void> {
    const old = this.active;
    // Make the full segment durable before the next one exists, so recovery only ever
    // finds a torn tail in the last segment of a partition.
    if (this.ctx.fsync !== 'never' && old.dirty) {
      await old.sync();
      this.ctx.stats.fsyncs++;
    }
    this.active = await Segment.create(this.ctx.dir, old.endOffset, this.ctx.fsync !== 'never');
    this.segments = [...this.segments, this.active];
    await old.seal();
  }

  /** Fsyncs the active segment if this round wrote to it. */
  async sync(): Promise<void> {
    if (!this.active.dirty) return;
    await this.active.sync();
    this.ctx.stats.fsyncs++;
  }

  /** Makes the in-flight appends readable, then resolves them in offset order. */
  commit(): void {
    const done = this.inFlight;
    this.inFlight = [];
    if (done.length === 0) return;
    this.readableEnd = done[done.length - 1].offset + 1;
    for (const entry of done) entry.resolve(entry.offset);
  }

  /** Rejects every append not yet resolved (the log has failed or is closing). */
  abandon(err: unknown): void {
    const dropped = [...this.inFlight, ...this.pending];
    this.inFlight = [];
    this.pending = [];
    for (const entry of dropped) entry.reject(err);
  }

  /** Records from `from` on, at most `max`, up to the readable end. */
  async read(from: number, max: number): Promise<LogRecord[]> {
    const p = this.ctx.partition;
    if (!Number.isSafeInteger(from) || from < this.startOffset) {
      throw new LogOffsetError(`partition ${p}: offset ${from} is below the start offset ${this.startOffset} (trimmed)`);
    }
    if (from > this.nextOffset) {
      throw new LogOffsetError(`partition ${p}: offset ${from} is past the end offset ${this.nextOffset}`);
    }
    const out: LogRecord[] = [];
    const segments = this.segments;
    const end = this.readableEnd;
    let i = segments.findLastIndex((s) => s.baseOffset <= from);
    for (let at = from; at < end && out.length < max && i < segments.length; at = from + out.length, i++) {
      const seg = segments[i];
      if (at < seg.baseOffset || at >= seg.endOffset) {
        // Offsets the open scan could not frame in a sealed segment: never drop them quietly.
        if (out.length > 0) break;
        throw new LogCorruptError(`partition ${p}: record ${at} is missing from ${seg.path}; the segment is damaged`);
      }
      try {
        await seg.read(at, Math.min(seg.endOffset, end), max, out);
      } catch (err) {
        if (isNotFound(err)) throw new LogOffsetError(`partition ${p}: offset ${at} was trimmed while being read`);
        throw err;
      }
      if (from + out.length < seg.endOffset) break;
    }
    return out;
  }

  /** Persists a new start offset, then deletes sealed segments wholly below it; trims run one at a time. */
  trim(upTo: number): Promise<void> {
    const run = this.trimming.then(() => this.trimNow(upTo));
    this.trimming = run.catch(() => undefined);
    return run;
  }

  private async trimNow(upTo: number): Promise<void> {
    if (!Number.isSafeInteger(upTo) || upTo < 0 || upTo > this.readableEnd) {
      throw new LogOffsetError(
        `partition ${this.ctx.partition}: cannot trim to ${upTo}; only offsets up to ${this.readableEnd} are durable`,
      );
    }
    if (upTo <= this.startOffset) return;
    // The start offset is durable before any file goes; open() finishes an interrupted delete.
    await writeJsonAtomic(join(this.ctx.dir, 'trim.json'), { startOffset: upTo });
    this.startOffset = upTo;
    const all = this.segments;
    const doomed = all.filter((s, i) => s !== this.active && all[i + 1].baseOffset <= upTo);
    this.segments = all.filter((s) => !doomed.includes(s));
    for (const s of doomed) {
      await unlink(s.path).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    }
  }

  /** Stops writing and releases the active segment's file. */
  async close(): Promise<void> {
    await this.active.seal();
  }
}

async function readTrimFile(path: string): Promise<number | undefined> {
  let value: unknown;
  try {
    value = await readJsonIfExists(path);
  } catch (cause) {
    throw new LogCorruptError(`${path} is not valid JSON`, { cause });
  }
  if (value === undefined) return undefined;
  const parsed = trimFileSchema.safeParse(value);
  if (!parsed.success) {
    throw new LogCorruptError(`${path} should hold {"startOffset": <integer ≥ 0>}; found ${JSON.stringify(value)}`);
  }
  return parsed.data.startOffset;
}
