import { constants } from 'node:fs';
import { mkdtemp, open, readdir, readFile, readlink, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { FileLog, type FileLogOptions } from './index.js';
import { encodeRecord } from './record.js';

const HEADER = 20;

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-log-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function openLog(options: FileLogOptions): Promise<FileLog> {
  const log = await FileLog.open(options);
  onTestFinished(() => log.close());
  return log;
}

/** A recognisable payload of `size` bytes for record `i` of partition `p`. */
function payload(p: number, i: number, size = 100): Buffer {
  return Buffer.alloc(size, `p${p}-r${i};`);
}

/** The commit log's segment files, oldest first. */
async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'commit'))).filter((f) => f.endsWith('.seg')).sort();
}

async function lastSegment(dir: string): Promise<string> {
  return join(dir, 'commit', (await segmentFiles(dir)).at(-1)!);
}

/** The base positions of the commit log's segments. */
async function segmentBases(dir: string): Promise<number[]> {
  return (await segmentFiles(dir)).map((f) => Number(f.slice(0, 20)));
}

async function flipByte(path: string, position: number): Promise<void> {
  const fh = await open(path, 'r+');
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, position);
  b[0]! ^= 0xff;
  await fh.write(b, 0, 1, position);
  await fh.close();
}

async function appendN(log: FileLog, p: number, n: number, size = 100): Promise<number[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => log.append(p, payload(p, i, size))));
}

describe('FileLog', () => {
  it('round-trips records across partitions and segment rolls, and after reopen', async () => {
    const dir = await tempDir();
    const log = await openLog({ dir, partitions: 3, segmentBytes: 1024 });
    const sizes = (i: number): number => 50 + ((i * 37) % 250);
    const offsets = await Promise.all(
      Array.from({ length: 60 }, (_, k) => log.append(k % 3, payload(k % 3, Math.floor(k / 3), sizes(k)))),
    );
    for (let p = 0; p < 3; p++) {
      expect(offsets.filter((_, k) => k % 3 === p)).toEqual([...Array(20).keys()]);
      expect(log.endOffset(p)).toBe(20);
    }
    expect((await segmentFiles(dir)).length).toBeGreaterThan(3);
    const expectAll = async (l: FileLog): Promise<void> => {
      for (let p = 0; p < 3; p++) {
        const records = await l.read(p, 0);
        expect(records.map((r) => r.offset)).toEqual([...Array(20).keys()]);
        records.forEach((r, i) => expect(Buffer.from(r.payload).equals(payload(p, i, sizes(i * 3 + p)))).toBe(true));
      }
    };
    await expectAll(log);
    expect((await log.read(1, 7, 5)).map((r) => r.offset)).toEqual([7, 8, 9, 10, 11]);
    expect(await log.read(1, 20)).toEqual([]);
    await expect(log.read(1, 21)).rejects.toMatchObject({ code: 'SLUICE_LOG_OFFSET' });
    await log.close();

    const reopened = await openLog({ dir, partitions: 3, segmentBytes: 1024 });
    expect(reopened.recovery).toEqual([]);
    expect([0, 1, 2].map((p) => reopened.endOffset(p))).toEqual([20, 20, 20]);
    await expectAll(reopened);
    expect(await reopened.append(2, payload(2, 20))).toBe(20);
    expect((await reopened.read(2, 19)).map((r) => r.offset)).toEqual([19, 20]);
  });

  const tears = [
    { name: '3 bytes cut off the end', cut: (size: number) => size - 3 },
    { name: 'a cut inside the last header', cut: (size: number) => size - (HEADER + 100) + 5 },
  ];
  for (const { name, cut } of tears) {
    it(`drops a torn tail (${name}) and keeps every whole record`, async () => {
      const dir = await tempDir();
      const log = await openLog({ dir, partitions: 1, segmentBytes: 1000 });
      await appendN(log, 0, 24);
      await log.close();
      const last = await lastSegment(dir);
      const { size } = await stat(last);
      await truncate(last, cut(size));

      const reopened = await openLog({ dir, partitions: 1, segmentBytes: 1000 });
      expect(reopened.recovery).toEqual([{ segment: last, truncatedBytes: cut(size) - (size - HEADER - 100) }]);
      expect(reopened.endOffset(0)).toBe(23);
      expect((await stat(last)).size).toBe(size - HEADER - 100);
      const records = await reopened.read(0, 0);
      expect(records.map((r) => r.offset)).toEqual([...Array(23).keys()]);
      records.forEach((r, i) => expect(Buffer.from(r.payload).equals(payload(0, i))).toBe(true));
      expect(await reopened.append(0, payload(0, 99))).toBe(23);
      const [tail] = await reopened.read(0, 23);
      expect(Buffer.from(tail!.payload).equals(payload(0, 99))).toBe(true);
    });
  }

  it('drops a zero-filled tail (a file that grew but whose data never reached disk)', async () => {
    const dir = await tempDir();
    const log = await openLog({ dir, partitions: 1 });
    await appendN(log, 0, 5);
    await log.close();
    const last = await lastSegment(dir);
    const { size } = await stat(last);
    await truncate(last, size + 4096);

    const reopened = await openLog({ dir, partitions: 1 });
    expect(reopened.recovery).toEqual([{ segment: last, truncatedBytes: 4096 }]);
    expect(reopened.endOffset(0)).toBe(5);
  });

  it('surfaces a CRC mismatch mid-log as LogCorruptError and treats one at the tail as torn', async () => {
    const dir = await tempDir();
    const log = await openLog({ dir, partitions: 1 });
    await appendN(log, 0, 10);
    await log.close();
    const seg = await lastSegment(dir);
    const recordBytes = HEADER + 100;
    await flipByte(seg, 4 * recordBytes + HEADER + 5);
    await flipByte(seg, 9 * recordBytes + HEADER + 50);

    const reopened = await openLog({ dir, partitions: 1 });
    expect(reopened.recovery).toEqual([{ segment: seg, truncatedBytes: recordBytes }]);
    expect(reopened.endOffset(0)).toBe(9);
    await expect(reopened.read(0, 0)).rejects.toMatchObject({ name: 'LogCorruptError', code: 'SLUICE_LOG_CORRUPT' });
    await expect(reopened.read(0, 4)).rejects.toMatchObject({ code: 'SLUICE_LOG_CORRUPT' });
    expect((await reopened.read(0, 0, 4)).map((r) => r.offset)).toEqual([0, 1, 2, 3]);
    expect((await reopened.read(0, 5)).map((r) => r.offset)).toEqual([5, 6, 7, 8]);
  });

  it('surfaces a CRC mismatch in a sealed segment at read time', async () => {
    const dir = await tempDir();
    const log = await openLog({ dir, partitions: 1, segmentBytes: 500 });
    await appendN(log, 0, 12);
    await log.close();
    const first = join(dir, 'commit', (await segmentFiles(dir))[0]!);
    await flipByte(first, (HEADER + 100) * 4 + HEADER);

    const reopened = await openLog({ dir, partitions: 1, segmentBytes: 500 });
    expect(reopened.recovery).toEqual([]);
    await expect(reopened.read(0, 2)).rejects.toMatchObject({ code: 'SLUICE_LOG_CORRUPT' });
    expect((await reopened.read(0, 5)).map((r) => r.offset)).toEqual([5, 6, 7, 8, 9, 10, 11]);
  });

  it('trims whole segments below the trim point and keeps the start offset across reopen', async () => {
    const dir = await tempDir();
    // 120-byte frames, 500-byte segments: five records a segment, at positions 0, 600, 1200, ...
    const log = await openLog({ dir, partitions: 2, segmentBytes: 500 });
    await appendN(log, 1, 30);
    expect(await segmentFiles(dir)).toHaveLength(6);

    await log.trim(1, 12);
    expect(await log.startOffset(1)).toBe(12);
    expect((await log.read(1, 12, 1))[0]?.offset).toBe(12);
    await expect(log.read(1, 11)).rejects.toMatchObject({ name: 'LogOffsetError', code: 'SLUICE_LOG_OFFSET' });
    // Record 12 lives in the segment at 1200 (records 10..14); partition 0 holds nothing.
    expect(await segmentBases(dir)).toEqual([1200, 1800, 2400, 3000]);
    await log.trim(1, 3); // backwards: a no-op
    expect(await log.startOffset(1)).toBe(12);
    await expect(log.trim(1, 31)).rejects.toMatchObject({ code: 'SLUICE_LOG_OFFSET' });
    expect(await log.startOffset(0)).toBe(0);
    // pending counts from the trim point up, never below zero
    expect(await Promise.all([log.pending(1, 0), log.pending(1, 20), log.pending(1, 30), log.pending(1, 99), log.pending(0, 0)])).toEqual([18, 10, 0, 0, 0]);
    await log.close();

    const reopened = await openLog({ dir, partitions: 2, segmentBytes: 500 });
    expect(await reopened.startOffset(1)).toBe(12);
    expect(reopened.endOffset(1)).toBe(30);
    await expect(reopened.read(1, 11)).rejects.toMatchObject({ code: 'SLUICE_LOG_OFFSET' });
    expect((await reopened.read(1, 12)).map((r) => r.offset)).toEqual([...Array(18).keys()].map((i) => i + 12));

    await reopened.trim(1, 30); // everything: the active segment stays
    expect(await segmentFiles(dir)).toEqual(['00000000000000003000.seg']);
    expect(await reopened.read(1, 30)).toEqual([]);
    expect(await reopened.append(1, payload(1, 30))).toBe(30);
  });

  it('restarts a partition at its start offset when trim.json is ahead of the data', async () => {
    const dir = await tempDir();
    const log = await openLog({ dir, partitions: 1, fsync: 'never' });
    await appendN(log, 0, 10);
    await log.close();
    await writeFile(join(dir, 'trim.json'), JSON.stringify({ version: 1, startOffsets: [15] }));

    const reopened = await openLog({ dir, partitions: 1, fsync: 'never' });
    expect([await reopened.startOffset(0), reopened.endOffset(0)]).toEqual([15, 15]);
    expect(await reopened.append(0, payload(0, 15))).toBe(15);
    expect((await reopened.read(0, 15)).map((r) => r.offset)).toEqual([15]);
    await expect(reopened.read(0, 14)).rejects.toMatchObject({ code: 'SLUICE_LOG_OFFSET' });
  });

  it('group-commits concurrent appends: consecutive offsets, in-order resolution, few fsyncs', async () => {
    const dir = await tempDir();
    const log = await openLog({ dir, partitions: 4, fsync: 'batch' });
    const resolved: number[][] = [[], [], [], []];
    const appends = Array.from({ length: 1000 }, (_, i) => {
      const p = i % 4;
      return log.append(p, payload(p, i)).then((offset) => {
        resolved[p]!.push(offset);
        return offset;
      });
    });
    const offsets = await Promise.all(appends);
    expect(offsets).toEqual(offsets.map((_, i) => Math.floor(i / 4)));
    for (const order of resolved) expect(order).toEqual([...Array(250).keys()]);
    expect(log.stats.appends).toBe(1000);
    expect(log.stats.fsyncs).toBeLessThan(1000 / 10);

    const single = await openLog({ dir: await tempDir(), partitions: 1 });
    expect(await appendN(single, 0, 1000)).toEqual([...Array(1000).keys()]);
    expect(single.stats.fsyncs).toBeLessThan(100);
    // One round's writev carried 2000 buffers, past IOV_MAX (1024): all must land in order.
    const records = await single.read(0, 0);
    expect(records).toHaveLength(1000);
    records.forEach((r, i) => expect(Buffer.from(r.payload).equals(payload(0, i))).toBe(true));
  });

  it("resolves after an fsync under 'always' and without one under 'never'", async () => {
    const always = await openLog({ dir: await tempDir(), partitions: 1, fsync: 'always' });
    expect(await appendN(always, 0, 50)).toEqual([...Array(50).keys()]);
    expect(always.stats.fsyncs).toBeGreaterThan(0);
    const never = await openLog({ dir: await tempDir(), partitions: 1, fsync: 'never' });
    expect(await appendN(never, 0, 50)).toEqual([...Array(50).keys()]);
    expect(never.stats.fsyncs).toBe(0);
    expect((await never.read(0, 49))[0]?.offset).toBe(49);
  });

  it("writes the commit log O_DSYNC (the write is the sync) under 'batch' and 'always', also after a roll, and plainly under 'never'", async () => {
    /** The open-file flags of this process's descriptors on `path` (Linux /proc). */
    const flagsOf = async (path: string): Promise<number[]> => {
      const flags: number[] = [];
      for (const fd of await readdir('/proc/self/fd')) {
        const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
        if (target !== path) continue;
        const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8').catch(() => '');
        const m = /^flags:\s+([0-7]+)/m.exec(info);
        if (m) flags.push(parseInt(m[1]!, 8));
      }
      return flags;
    };
    // Node has no O_ACCMODE constant: it is the low two bits on Linux.
    const writable = (flags: number[]): number[] => flags.filter((f) => (f & 3) === constants.O_RDWR);
    for (const fsync of ['batch', 'always', 'never'] as const) {
      const dir = await tempDir();
      const log = await openLog({ dir, partitions: 1, segmentBytes: 500, fsync });
      await appendN(log, 0, 12); // rolls to new segments
      const flags = writable(await flagsOf(await lastSegment(dir)));
      expect(flags).toHaveLength(1);
      expect((flags[0]! & constants.O_DSYNC) !== 0).toBe(fsync !== 'never');
      await log.close();
      // Counted either way: one durable write or one fdatasync per round (no roll here).
      const oneDir = await tempDir();
      const one = await openLog({ dir: oneDir, partitions: 1, fsync });
      await one.append(0, payload(0, 0));
      expect(one.stats.fsyncs).toBe(fsync === 'never' ? 0 : 1);
      // A round of more records than one writev takes (600 × 2 buffers past IOV_MAX) is written whole.
      const rounds = one.stats.rounds;
      await appendN(one, 0, 601, 10);
      expect(one.stats.rounds - rounds).toBeLessThanOrEqual(2);
      await one.close();
      // Read back from the files (a reopened log holds nothing in memory).
      const back = await (await openLog({ dir: oneDir, partitions: 1, fsync })).read(0, 1, 1000);
      expect(back).toHaveLength(601);
      back.forEach((r, i) => expect(Buffer.from(r.payload).equals(payload(0, i, 10))).toBe(true));
    }
  });

  it('close waits for queued appends; appends after close are refused', async () => {
    const log = await openLog({ dir: await tempDir(), partitions: 1 });
    const pending = appendN(log, 0, 100);
    await log.close();
    expect(await pending).toEqual([...Array(100).keys()]);
    await expect(log.append(0, payload(0, 100))).rejects.toMatchObject({ code: 'SLUICE_LOG_CLOSED' });
    await expect(log.append(0, new Uint8Array(0))).rejects.toMatchObject({ code: 'SLUICE_LOG_CLOSED' });
  });

  it('refuses bad input: empty payloads, unknown partitions, unknown config keys', async () => {
    const dir = await tempDir();
    const log = await openLog({ dir, partitions: 2 });
    await expect(log.append(0, new Uint8Array(0))).rejects.toMatchObject({ code: 'SLUICE_LOG_RECORD_INVALID' });
    await expect(log.append(2, payload(0, 0))).rejects.toMatchObject({ code: 'SLUICE_LOG_OFFSET' });
    const bad = { dir: await tempDir(), partitions: 1, fsnyc: 'never' } as FileLogOptions;
    await expect(FileLog.open(bad)).rejects.toMatchObject({ code: 'SLUICE_CONFIG_INVALID', message: /fsnyc/ });
    await expect(FileLog.open({ dir, partitions: 1, segmentBytes: -1 })).rejects.toThrow(/log\.segmentBytes.*got -1/);
  });

  it('a round that appends to 64 partitions costs one fsync', async () => {
    const log = await openLog({ dir: await tempDir(), partitions: 64 });
    const before = { ...log.stats };
    const offsets = await Promise.all(Array.from({ length: 64 }, (_, p) => log.append(p, payload(p, 0))));
    expect(offsets).toEqual(new Array(64).fill(0));
    expect(log.stats.rounds - before.rounds).toBe(1);
    expect(log.stats.fsyncs - before.fsyncs).toBe(1);
    expect(log.stats.indexFsyncs - before.indexFsyncs).toBe(0);
    for (let p = 0; p < 64; p += 9) expect(Buffer.from((await log.read(p, 0))[0]!.payload).equals(payload(p, 0))).toBe(true);
  });

  it('rebuilds a deleted or truncated index file from the commit log on open', async () => {
    const dir = await tempDir();
    const log = await openLog({ dir, partitions: 3, segmentBytes: 1000 });
    await Promise.all(Array.from({ length: 90 }, (_, k) => log.append(k % 3, payload(k % 3, Math.floor(k / 3)))));
    await log.trim(2, 7);
    await log.close();
    await rm(join(dir, 'index', '001.idx'));
    await truncate(join(dir, 'index', '000.idx'), 16 + 8 * 3);
    await writeFile(join(dir, 'index', '002.idx'), 'not an index');

    const reopened = await openLog({ dir, partitions: 3, segmentBytes: 1000 });
    expect(reopened.recovery).toEqual([]);
    const starts = await Promise.all([0, 1, 2].map((p) => reopened.startOffset(p)));
    expect([0, 1, 2].map((p) => [starts[p], reopened.endOffset(p)])).toEqual([[0, 30], [0, 30], [7, 30]]);
    for (let p = 0; p < 3; p++) {
      const records = await reopened.read(p, starts[p]!);
      expect(records.map((r) => r.offset)).toEqual([...Array(30).keys()].slice(starts[p]));
      records.forEach((r) => expect(Buffer.from(r.payload).equals(payload(p, r.offset))).toBe(true));
    }
    expect(await reopened.append(1, payload(1, 30))).toBe(30);
    expect((await reopened.read(1, 29)).map((r) => r.offset)).toEqual([29, 30]);
  });

  it('does not trust index entries past the checkpoint (a crash before they were fsynced)', async () => {
    const dir = await tempDir();
    const log = await openLog({ dir, partitions: 2, segmentBytes: 1000 });
    await Promise.all(Array.from({ length: 80 }, (_, k) => log.append(k % 2, payload(k % 2, Math.floor(k / 2)))));
    await log.close();
    // As if the last checkpoint was taken at record 40 (offset 20 of each partition) and the
    // entries written after it never reached the disk: zeros where partition 0's should be.
    await writeFile(join(dir, 'index', 'checkpoint.json'), JSON.stringify({ version: 1, position: 40 * (HEADER + 100), ends: [20, 20] }));
    const fh = await open(join(dir, 'index', '000.idx'), 'r+');
    await fh.write(Buffer.alloc(8 * 20), 0, 8 * 20, 16 + 8 * 20);
    await fh.close();

    const reopened = await openLog({ dir, partitions: 2, segmentBytes: 1000 });
    for (let p = 0; p < 2; p++) {
      const records = await reopened.read(p, 0);
      expect(records.map((r) => r.offset)).toEqual([...Array(40).keys()]);
      records.forEach((r) => expect(Buffer.from(r.payload).equals(payload(p, r.offset))).toBe(true));
    }
  });

  it('deletes a commit segment only once every partition has trimmed past it', async () => {
    const dir = await tempDir();
    // Partitions alternate, 120-byte frames, five records a 500-byte segment: twelve segments.
    const log = await openLog({ dir, partitions: 2, segmentBytes: 500 });
    await Promise.all(Array.from({ length: 60 }, (_, k) => log.append(k % 2, payload(k % 2, Math.floor(k / 2)))));
    expect(await segmentFiles(dir)).toHaveLength(12);

    await log.trim(0, 30); // all of partition 0, but partition 1 still needs every segment
    expect(await segmentFiles(dir)).toHaveLength(12);
    expect((await log.read(1, 0)).map((r) => r.offset)).toEqual([...Array(30).keys()]);

    // Partition 1's offset 20 is record 41 of the commit log, at 4920 in the segment at 4800.
    await log.trim(1, 20);
    expect(await segmentBases(dir)).toEqual([4800, 5400, 6000, 6600]);
    expect((await log.read(1, 20)).map((r) => r.offset)).toEqual([...Array(10).keys()].map((i) => i + 20));
    expect(await log.read(0, 30)).toEqual([]);
    expect(await log.append(0, payload(0, 30))).toBe(30);
    await log.close();

    const reopened = await openLog({ dir, partitions: 2, segmentBytes: 500 });
    expect(await Promise.all([0, 1].map(async (p) => [await reopened.startOffset(p), reopened.endOffset(p)]))).toEqual([[30, 31], [20, 30]]);
    expect(Buffer.from((await reopened.read(0, 30))[0]!.payload).equals(payload(0, 30))).toBe(true);
    expect((await reopened.read(1, 25, 2)).map((r) => r.offset)).toEqual([25, 26]);
    await expect(reopened.read(1, 19)).rejects.toMatchObject({ code: 'SLUICE_LOG_OFFSET' });
  });

  it('reopens without rescanning old segments; damage there surfaces only when read', async () => {
    const dir = await tempDir();
    const log = await openLog({ dir, partitions: 2, segmentBytes: 500 });
    await Promise.all(Array.from({ length: 80 }, (_, k) => log.append(k % 2, payload(k % 2, Math.floor(k / 2)))));
    await log.close();
    const frame = HEADER + 100;
    // Record 7 (partition 1, offset 3), segment 1: a CRC-valid header claiming offset 5000.
    // A rescan would take it for partition 1's newest record and move its end offset.
    const fh = await open(join(dir, 'commit', (await segmentFiles(dir))[1]!), 'r+');
    await fh.write(encodeRecord(1, 5000, payload(1, 3)), 0, frame, 7 * frame - 600);
    await fh.close();
    // Record 12 (partition 0, offset 6), segment 2: a rotten payload byte.
    await flipByte(join(dir, 'commit', (await segmentFiles(dir))[2]!), 12 * frame - 1200 + HEADER + 50);

    const reopened = await openLog({ dir, partitions: 2, segmentBytes: 500 });
    expect(reopened.recovery).toEqual([]);
    expect([reopened.endOffset(0), reopened.endOffset(1)]).toEqual([40, 40]);
    await expect(reopened.read(1, 0)).rejects.toMatchObject({ name: 'LogCorruptError', message: /partition 1, offset 5000/ });
    expect((await reopened.read(1, 4)).map((r) => r.offset)).toEqual([...Array(36).keys()].map((i) => i + 4));
    await expect(reopened.read(0, 6, 1)).rejects.toMatchObject({ code: 'SLUICE_LOG_CORRUPT', message: /CRC/ });
    expect((await reopened.read(0, 7)).map((r) => r.offset)).toEqual([...Array(33).keys()].map((i) => i + 7));
  });

  it('compacts an index file once most of it is trimmed, and keeps its base across reopen', async () => {
    const dir = await tempDir();
    const log = await openLog({ dir, partitions: 1 });
    const n = 140_000;
    const offsets = await Promise.all(Array.from({ length: n }, (_, i) => log.append(0, Buffer.from(`r${i}`))));
    expect(offsets[n - 1]).toBe(n - 1);
    const idx = join(dir, 'index', '000.idx');
    expect((await stat(idx)).size).toBeLessThanOrEqual(16 + 8 * n);
    const checkpoints = log.stats.checkpoints;

    await log.trim(0, n - 1000);
    expect(log.stats.checkpoints).toBe(checkpoints + 1);
    expect((await stat(idx)).size).toBe(16 + 8 * 1000);
    const records = await log.read(0, n - 1000);
    expect(records.map((r) => Buffer.from(r.payload).toString())).toEqual([...Array(1000).keys()].map((i) => `r${n - 1000 + i}`));
    await log.close();

    const reopened = await openLog({ dir, partitions: 1 });
    expect([await reopened.startOffset(0), reopened.endOffset(0)]).toEqual([n - 1000, n]);
    expect(Buffer.from((await reopened.read(0, n - 1, 1))[0]!.payload).toString()).toBe(`r${n - 1}`);
  });

  it('refuses to reopen a log with a different partition count or an older on-disk format', async () => {
    const dir = await tempDir();
    await (await openLog({ dir, partitions: 4 })).close();
    await expect(FileLog.open({ dir, partitions: 8 })).rejects.toMatchObject({
      code: 'SLUICE_CONFIG_INVALID',
      message: expect.stringMatching(/created with 4 partitions.*cannot be opened with 8/),
    });
    const again = await openLog({ dir, partitions: 4 });
    expect(again.partitions).toBe(4);

    const old = await tempDir();
    await writeFile(join(old, 'meta.json'), JSON.stringify({ version: 1, partitions: 4 }));
    await expect(FileLog.open({ dir: old, partitions: 4 })).rejects.toMatchObject({
      code: 'SLUICE_CONFIG_INVALID',
      message: expect.stringMatching(/format 1/),
    });
  });
});
