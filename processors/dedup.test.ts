import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ColumnarBatchBuilder, MSG_FLAG_DROPPED } from '../proto/index.js';
import { SeqDeduplicator } from './dedup.js';
import { StateCorruptError } from './errors.js';

describe('SeqDeduplicator', () => {
  it('accepts each seq once per device', () => {
    const d = new SeqDeduplicator();
    expect([1, 2, 2, 3, 1, 3].map((s) => d.accept('a', s))).toEqual([true, true, false, true, false, false]);
    expect(d.accept('b', 2)).toBe(true); // devices are independent
    expect(d.stats).toEqual({ accepted: 4, duplicates: 3, farBehind: 0, unsequenced: 0 });
  });

  it('accepts batches reordered within the window once', () => {
    const d = new SeqDeduplicator();
    const order = [10, 7, 9, 8, 12, 11, 8, 11, 7];
    expect(order.map((s) => d.accept('a', s))).toEqual([true, true, true, true, true, true, false, false, false]);
  });

  it('remembers exactly the 64 seqs below the high-water mark, across word boundaries', () => {
    const d = new SeqDeduplicator();
    d.accept('a', 100);
    for (const s of [99, 68, 67, 36, 37]) expect(d.accept('a', s)).toBe(true);
    expect(d.accept('a', 35)).toBe(false); // 100 − 35 − 1 = 64: outside the window
    expect(d.stats.farBehind).toBe(1);
    for (const s of [99, 68, 67, 36, 37]) expect(d.accept('a', s)).toBe(false);
    // jumps of 1, 31, 32, 33, 64 and 65 keep the right bits
    for (const jump of [1, 31, 32, 33, 64, 65]) {
      const e = new SeqDeduplicator();
      e.accept('a', 1_000);
      e.accept('a', 1_000 + jump);
      expect(e.accept('a', 1_000)).toBe(false);
      // a remembered duplicate while within the window; beyond it, far behind
      expect([e.stats.duplicates, e.stats.farBehind]).toEqual(jump <= 64 ? [1, 0] : [0, 1]);
      expect(e.accept('a', 1_000 + jump - 1)).toBe(jump !== 1);
    }
  });

  it('drops far-behind seqs and counts them', () => {
    const d = new SeqDeduplicator();
    d.accept('a', 1_000_000);
    expect(d.accept('a', 1)).toBe(false);
    expect(d.stats.farBehind).toBe(1);
  });

  it('never deduplicates seq 0', () => {
    const d = new SeqDeduplicator();
    expect([0, 0, 0].map((s) => d.accept('a', s))).toEqual([true, true, true]);
    expect(d.stats.unsequenced).toBe(3);
    expect(d.size).toBe(0);
  });

  it('restores to the same decisions', () => {
    const d = new SeqDeduplicator();
    for (const s of [5, 3, 70, 71]) d.accept('dev-ü', s);
    d.accept('b', 2 ** 53 - 1);
    const r = SeqDeduplicator.restore(d.snapshot());
    expect(r.stats).toEqual(d.stats);
    for (const [dev, s] of [['dev-ü', 5], ['dev-ü', 69], ['dev-ü', 69], ['dev-ü', 3], ['dev-ü', 71], ['b', 2 ** 53 - 1], ['b', 2 ** 53 - 2]] as const) {
      expect(r.accept(dev, s)).toBe(d.accept(dev, s));
    }
    expect(() => SeqDeduplicator.restore(d.snapshot().subarray(0, 20))).toThrow(StateCorruptError);
  });

  it('decides a whole batch, skipping messages the gateway dropped', () => {
    const b = new ColumnarBatchBuilder(0, 0);
    const dev = b.intern('a');
    for (const seq of [1, 2, 1, 3]) b.beginMessage(dev, 0, seq);
    const batch = b.build();
    batch.msgFlags[3] = MSG_FLAG_DROPPED;
    const d = new SeqDeduplicator();
    expect([...d.acceptBatch(batch)]).toEqual([1, 1, 0, 0]);
    expect(d.accept('a', 3)).toBe(true); // the dropped message left no trace
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
