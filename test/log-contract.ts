/**
 * The Log contract as tests, for every implementation: `describeLogContract(name, makeLog)`
 * registers them. `makeLog()` gives a fresh, empty log location per test; its `open()` may
 * be called again after close() to check what survives a restart.
 */
import { describe, expect, it } from 'vitest';
import type { Log, LogRecord } from '../log/index.js';

/** The Log contract (log/log.ts). */
export type ContractLog = Log;

/** One log location with 4 partitions: `open()` opens (or reopens) it; `destroy()` removes it. */
export interface LogFixture {
  open(): Promise<ContractLog>;
  destroy(): Promise<void>;
}

export const CONTRACT_PARTITIONS = 4;

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Strictly increasing: the contract allows gaps, never repeats or reordering. */
function expectIncreasing(offsets: number[]): void {
  for (let i = 1; i < offsets.length; i++) expect(offsets[i]!, `offset ${i} after ${offsets[i - 1]}`).toBeGreaterThan(offsets[i - 1]!);
}

/** Every record of `partition` from `from` on, read in pages of `page`. */
async function readAll(log: ContractLog, partition: number, from: number, page = 1000): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for (;;) {
    const batch = await log.read(partition, from, page);
    if (batch.length === 0) return out;
    out.push(...batch);
    from = batch[batch.length - 1]!.offset + 1;
  }
}

/** Registers the contract tests for the log `makeLog` creates. */
export function describeLogContract(name: string, makeLog: () => Promise<LogFixture>): void {
  describe(`Log contract: ${name}`, () => {
    /** Runs `body` on a freshly opened log and always closes and destroys it. */
    async function withLog(body: (log: ContractLog, fixture: LogFixture) => Promise<void>): Promise<void> {
      const fixture = await makeLog();
      const log = await fixture.open();
      try {
        await body(log, fixture);
      } finally {
        await log.close().catch(() => undefined);
        await fixture.destroy();
      }
    }

    it('appends and reads back in order, with increasing offsets; [] when nothing is there yet', () =>
      withLog(async (log) => {
        expect(log.partitions).toBe(CONTRACT_PARTITIONS);
        expect(await log.read(0, 0)).toEqual([]);
        const offsets: number[] = [];
        for (let i = 0; i < 5; i++) offsets.push(await log.append(0, text(`r${i}`)));
        expectIncreasing(offsets);
        const got = await log.read(0, offsets[0]!);
        expect(got.map((r) => r.offset)).toEqual(offsets);
        expect(got.map((r) => str(r.payload))).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
        expect(await log.read(0, offsets[4]! + 1)).toEqual([]);
        expect(await log.read(1, 0)).toEqual([]);
      }));

    it('keeps partitions apart', () =>
      withLog(async (log) => {
        await Promise.all([log.append(1, text('one')), log.append(2, text('two')), log.append(1, text('one again'))]);
        expect((await readAll(log, 1, 0)).map((r) => str(r.payload))).toEqual(['one', 'one again']);
        expect((await readAll(log, 2, 0)).map((r) => str(r.payload))).toEqual(['two']);
        expect(await readAll(log, 3, 0)).toEqual([]);
      }));

    it('reads from any offset, mid-batch and between offsets, at most maxRecords', () =>
      withLog(async (log) => {
        // Concurrent appends: a framing log packs them together, so offset 5 is mid-frame.
        const offsets = await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(0, text(`m${i}`))));
        expectIncreasing(offsets);
        const mid = await log.read(0, offsets[5]!);
        expect(mid.map((r) => str(r.payload))).toEqual(Array.from({ length: 15 }, (_, i) => `m${i + 5}`));
        expect((await log.read(0, offsets[5]!, 3)).map((r) => r.offset)).toEqual(offsets.slice(5, 8));
        // Just past a record: the next one, whatever the gap.
        expect((await log.read(0, offsets[7]! + 1, 1))[0]!.offset).toBe(offsets[8]);
        const paged = await readAll(log, 0, 0, 4);
        expect(paged.map((r) => r.offset)).toEqual(offsets);
      }));

    it('keeps each partition in call order under many concurrent appends', () =>
      withLog(async (log) => {
        const n = 3000;
        const calls = Array.from({ length: n }, (_, i) => {
          const partition = i % 3;
          // Sizes from 10 B to ~6 KB, so frames close on size as well as on time.
          return log.append(partition, text(`c${i}:`.padEnd(10 + ((i * 37) % 6000), '.')));
        });
        const offsets = await Promise.all(calls);
        for (let p = 0; p < 3; p++) {
          const mine = offsets.filter((_, i) => i % 3 === p);
          expectIncreasing(mine);
          const records = await readAll(log, p, 0);
          expect(records.map((r) => r.offset)).toEqual(mine);
          expect(records.map((r) => str(r.payload).split(':')[0])).toEqual(
            Array.from({ length: n }, (_, i) => i)
              .filter((i) => i % 3 === p)
              .map((i) => `c${i}`),
          );
        }
      }));

    it('stores a large record; refuses an empty record and an unknown partition', () =>
      withLog(async (log) => {
        const big = new Uint8Array(300 * 1024).map((_, i) => i % 251);
        const [a, b, c] = await Promise.all([log.append(0, text('small')), log.append(0, big), log.append(0, text('after'))]);
        const got = await log.read(0, a);
        expect(got.map((r) => r.offset)).toEqual([a, b, c]);
        expect(Buffer.from(got[1]!.payload).equals(Buffer.from(big))).toBe(true);
        await expect(log.append(0, new Uint8Array(0))).rejects.toMatchObject({ code: 'SLUICE_LOG_RECORD_INVALID' });
        await expect(log.append(CONTRACT_PARTITIONS, text('x'))).rejects.toMatchObject({ code: 'SLUICE_LOG_OFFSET' });
      }));

    it('trims: reads below the start fail with LogOffsetError, records from it on stay', () =>
      withLog(async (log) => {
        expect(await log.startOffset(0)).toBe(0);
        const offsets = await Promise.all(Array.from({ length: 10 }, (_, i) => log.append(0, text(`t${i}`))));
        await log.trim(0, offsets[4]!);
        expect(await log.startOffset(0)).toBe(offsets[4]);
        await expect(log.read(0, offsets[3]!)).rejects.toMatchObject({ name: 'LogOffsetError', code: 'SLUICE_LOG_OFFSET' });
        await expect(log.read(0, 0)).rejects.toMatchObject({ code: 'SLUICE_LOG_OFFSET' });
        expect((await log.read(0, offsets[4]!)).map((r) => str(r.payload))).toEqual(['t4', 't5', 't6', 't7', 't8', 't9']);
        // Trimming lower again changes nothing; other partitions are untouched.
        await log.trim(0, offsets[1]!);
        expect(await log.startOffset(0)).toBe(offsets[4]);
        expect(await log.startOffset(1)).toBe(0);
        // Appends go on above the start.
        const next = await log.append(0, text('t10'));
        expect(next).toBeGreaterThan(offsets[9]!);
        expect((await readAll(log, 0, offsets[9]!)).map((r) => str(r.payload))).toEqual(['t9', 't10']);
      }));

    it('keeps records and trim points across close and reopen', () =>
      withLog(async (first, fixture) => {
        const offsets: number[] = [];
        for (let i = 0; i < 6; i++) offsets.push(await first.append(2, text(`k${i}`)));
        await first.trim(2, offsets[2]!);
        await first.close();
        const log = await fixture.open();
        try {
          expect(await log.startOffset(2)).toBe(offsets[2]);
          await expect(log.read(2, offsets[1]!)).rejects.toMatchObject({ code: 'SLUICE_LOG_OFFSET' });
          expect((await log.read(2, offsets[2]!)).map((r) => str(r.payload))).toEqual(['k2', 'k3', 'k4', 'k5']);
          const more = await log.append(2, text('k6'));
          expect(more).toBeGreaterThan(offsets[5]!);
        } finally {
          await log.close();
        }
      }));

    it('counts pending records, 0 when caught up', () =>
      withLog(async (log) => {
        expect(await log.pending(3, 0)).toBe(0);
        const offsets: number[] = [];
        // One append at a time: every log, estimating or not, knows these counts exactly.
        for (let i = 0; i < 8; i++) offsets.push(await log.append(3, text(`p${i}`)));
        for (let i = 0; i < 8; i++) expect(await log.pending(3, offsets[i]!), `pending from record ${i}`).toBe(8 - i);
        expect(await log.pending(3, offsets[7]! + 1)).toBe(0);
        expect(await log.pending(3, 0)).toBe(8);
        await log.trim(3, offsets[5]!);
        expect(await log.pending(3, offsets[5]!)).toBe(3);
      }));

    it('refuses calls after close', () =>
      withLog(async (log) => {
        await log.append(0, text('last'));
        await log.close();
        await expect(log.append(0, text('late'))).rejects.toMatchObject({ code: 'SLUICE_LOG_CLOSED' });
        await expect(log.read(0, 0)).rejects.toMatchObject({ code: 'SLUICE_LOG_CLOSED' });
      }));
  });
}
