import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ColumnarBatchBuilder, MSG_FLAG_DROPPED, MSG_FLAG_STATUS } from '../proto/index.js';
import { MAX_SEQ_GAPS, SeqDeduplicator } from './dedup.js';
import { ByteWriter } from './state/bytes.js';
import { StateCorruptError } from './errors.js';

describe('SeqDeduplicator', () => {
  it('accepts each seq once per device', () => {
    const d = new SeqDeduplicator();
    expect([1, 2, 2, 3, 1, 3].map((s) => d.accept('a', s))).toEqual([true, true, false, true, false, false]);
    expect(d.accept('b', 2)).toBe(true); // devices are independent
    expect(d.stats).toEqual({ accepted: 4, duplicates: 3, gapsClosed: 0, unsequenced: 0 });
  });

  it('accepts reordered batches once, however far behind the newest they are', () => {
    const d = new SeqDeduplicator();
    const order = [10, 7, 9, 8, 12, 11, 8, 11, 7];
    expect(order.map((s) => d.accept('a', s))).toEqual([true, true, true, true, true, true, false, false, false]);
    // A backlog sent newest first: 1,000 seqs behind the high-water mark, each counted once.
    const e = new SeqDeduplicator();
    expect(e.accept('a', 1_000)).toBe(true);
    for (let s = 1; s < 1_000; s++) expect(e.accept('a', s)).toBe(true);
    for (let s = 1; s <= 1_000; s++) expect(e.accept('a', s)).toBe(false);
    expect(e.stats).toEqual({ accepted: 1_000, duplicates: 1_000, gapsClosed: 0, unsequenced: 0 });
    expect(e.snapshot().byteLength).toBeLessThan(64); // one range again
  });

  it('decides exactly like a set of seen seqs in any order while the gaps stay within the bound', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.integer({ min: 0, max: 400 })), { maxLength: 300 }), (events) => {
        const d = new SeqDeduplicator(MAX_SEQ_GAPS);
        const seen = new Set<string>();
        for (const [dev, seq] of events) {
          const fresh = seq === 0 || !seen.has(`${dev}/${seq}`);
          seen.add(`${dev}/${seq}`);
          expect(d.accept(dev, seq)).toBe(fresh);
        }
        expect(d.stats.gapsClosed).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('never accepts a seq twice, whatever the bound', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 300 }), (maxGaps, seqs) => {
        const d = new SeqDeduplicator(maxGaps);
        const accepted = new Set<number>();
        for (const seq of seqs) {
          if (!d.accept('a', seq)) continue;
          expect(accepted.has(seq)).toBe(false);
          accepted.add(seq);
        }
      }),
    );
  });

  it('past the bound, closes the smallest gap: its seqs count as seen, the larger gaps stay exact', () => {
    const d = new SeqDeduplicator(3);
    // gaps: {2}, {4, 5}, {7, 8, 9}, {11 … 14}: one more than the bound
    for (const s of [1, 3, 6, 10, 15]) expect(d.accept('a', s)).toBe(true);
    expect(d.stats.gapsClosed).toBe(1);
    expect(d.accept('a', 2)).toBe(false);
    expect([4, 5, 7, 8, 9, 11, 12, 13, 14].map((s) => d.accept('a', s))).toEqual(new Array(9).fill(true));
    expect(d.stats).toEqual({ accepted: 14, duplicates: 1, gapsClosed: 1, unsequenced: 0 });
  });

  it('never deduplicates seq 0', () => {
    const d = new SeqDeduplicator();
    expect([0, 0, 0].map((s) => d.accept('a', s))).toEqual([true, true, true]);
    expect(d.stats.unsequenced).toBe(3);
    expect(d.size).toBe(0);
  });

  it('restores to the same decisions', () => {
    const d = new SeqDeduplicator();
    for (const s of [5, 3, 70, 71, 300]) d.accept('dev-ü', s);
    d.accept('b', 2 ** 53 - 1);
    const r = SeqDeduplicator.restore(d.snapshot());
    expect(r.stats).toEqual(d.stats);
    for (const [dev, s] of [['dev-ü', 5], ['dev-ü', 69], ['dev-ü', 69], ['dev-ü', 3], ['dev-ü', 71], ['dev-ü', 4], ['dev-ü', 299], ['b', 2 ** 53 - 1], ['b', 2 ** 53 - 2]] as const) {
      expect(r.accept(dev, s)).toBe(d.accept(dev, s));
    }
    expect(() => SeqDeduplicator.restore(d.snapshot().subarray(0, 20))).toThrow(StateCorruptError);
  });

  it('converts a version 2 snapshot (64-seq reorder bitmap) to the decisions it stood for', () => {
    const w = new ByteWriter(128);
    w.u32(0x44515053);
    w.u8(2); // version 2
    w.u8(0); // full
    w.u8(64); // its reorder window
    for (const v of [7, 1, 0, 0]) w.f64(v);
    w.varint(1);
    w.string('old');
    w.f64(100); // high-water mark
    w.u32((1 << 0) | (1 << 30)); // seqs 99 and 69 seen
    w.u32(1 << 31); // bit 63: seq 36 seen
    const d = SeqDeduplicator.restore(w.finish());
    expect(d.stats).toEqual({ accepted: 7, duplicates: 1, gapsClosed: 0, unsequenced: 0 });
    const probes = [100, 99, 69, 36, 35, 1, 98, 70, 37, 101];
    expect(probes.map((s) => d.accept('old', s))).toEqual([false, false, false, false, false, false, true, true, true, true]);
    // and the converted state checkpoints in the current format
    expect(SeqDeduplicator.restore(d.snapshot()).accept('old', 97)).toBe(true);
  });

  it('decides a whole batch, skipping messages the gateway dropped and status records', () => {
    const b = new ColumnarBatchBuilder(0, 0);
    const dev = b.intern('a');
    for (const seq of [1, 2, 1, 3, 4]) b.beginMessage(dev, 0, seq);
    const batch = b.build();
    batch.msgFlags[3] = MSG_FLAG_DROPPED;
    batch.msgFlags[4] = MSG_FLAG_STATUS;
    const d = new SeqDeduplicator();
    expect([...d.acceptBatch(batch)]).toEqual([1, 1, 0, 0, 0]);
    expect(d.accept('a', 3)).toBe(true); // the dropped message left no trace
    expect(d.accept('a', 4)).toBe(true); // nor the status record
  });

  it('carries only the devices touched since the previous snapshot in a delta, and restores full + deltas to the same decisions', () => {
    const d = new SeqDeduplicator(16);
    for (let i = 0; i < 100; i++) d.accept(`dev-${i}`, 10);
    const full = d.snapshot();
    d.accept('dev-1', 12); // a new high-water mark
    d.accept('dev-2', 9); // a gap below it filled
    d.accept('dev-3', 10); // a duplicate: counted, no state change
    d.accept('new', 1);
    const delta1 = d.snapshotDelta();
    d.accept('dev-1', 11);
    const delta2 = d.snapshotDelta();
    expect(delta1.byteLength).toBeLessThan(200);
    expect(delta2.byteLength).toBeLessThan(100);
    const r = SeqDeduplicator.restore(full, [delta1, delta2]);
    expect(r.stats).toEqual(d.stats);
    expect(r.size).toBe(101);
    for (const [dev, seq] of [['dev-1', 11], ['dev-1', 10], ['dev-1', 12], ['dev-2', 9], ['dev-2', 8], ['new', 1], ['new', 2], ['dev-50', 10], ['dev-50', 11]] as const) {
      expect(r.accept(dev, seq), `${dev} ${seq}`).toBe(d.accept(dev, seq));
    }
    expect(() => SeqDeduplicator.restore(delta1)).toThrow(/a delta where a full snapshot was expected/);
    expect(() => SeqDeduplicator.restore(full, [full])).toThrow(/a full snapshot where a delta was expected/);
    expect(() => SeqDeduplicator.restore(full, [delta1.subarray(0, delta1.length - 2)])).toThrow(StateCorruptError);
  });

  it('restores from full + deltas taken at random points exactly like the live one', () => {
    const eventArb = fc.oneof(
      fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), fc.integer({ min: 0, max: 120 })),
      fc.constantFrom<'full' | 'delta'>('full', 'delta', 'delta'),
    );
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 80 }), fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), fc.integer({ min: 0, max: 130 })), { maxLength: 30 }), (events, probes) => {
        const live = new SeqDeduplicator();
        let full = live.snapshot();
        let deltas: Uint8Array[] = [];
        for (const e of events) {
          if (e === 'full') [full, deltas] = [live.snapshot(), []];
          else if (e === 'delta') deltas.push(live.snapshotDelta());
          else live.accept(e[0], e[1]);
        }
        deltas.push(live.snapshotDelta());
        const restored = SeqDeduplicator.restore(full, deltas);
        expect(restored.stats).toEqual(live.stats);
        for (const [dev, seq] of probes) expect(restored.accept(dev, seq)).toBe(live.accept(dev, seq));
      }),
      { numRuns: 200 },
    );
  });
});
