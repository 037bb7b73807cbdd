import { DDSketch } from '@datadog/sketches-js';
import { describe, expect, it } from 'vitest';
import { StateCorruptError } from '../errors.js';
import { addValues, clearSketch, createSketch, mergeSketch, RELATIVE_ACCURACY, SketchKeyMemo, sketchFromProto, sketchToProto, type Sketch } from './quantile-sketch.js';

const QS = [0, 0.01, 0.25, 0.5, 0.9, 0.99, 1];
const quantiles = (s: Pick<Sketch, 'getValueAtQuantile'>): number[] => QS.map((q) => s.getValueAtQuantile(q));
function filled(values: number[]): Sketch {
  const s = createSketch();
  for (const v of values) s.accept(v);
  return s;
}
const MIXED = [-50, -3.5, -0.2, 0, 0, 0.004, 0.97, 1, 1.02, 21.5, 22, 1e6];

describe('quantile sketch (DDSketch)', () => {
  it('merges negative values too (the library merge keeps only the positive store)', () => {
    const lib = new DDSketch();
    lib.accept(5);
    const other = new DDSketch();
    other.accept(-3);
    other.accept(-4);
    lib.merge(other);
    expect(lib.getValueAtQuantile(0)).toBeGreaterThan(0); // the bug this module works around

    const a = filled([5]);
    mergeSketch(a, filled([-3, -4]));
    expect(a.count).toBe(3);
    expect(a.getValueAtQuantile(0)).toBeCloseTo(-4, 1);
    expect(a.getValueAtQuantile(0.5)).toBeCloseTo(-3, 1);
  });

  it('merging equals adding everything to one sketch, values near 1.0 included', () => {
    const left = [0.5, 0.6, -2, 0];
    const right = [0.7, 1.0, 0.99, -7, 1e-3];
    const merged = filled(left);
    mergeSketch(merged, filled(right));
    expect(quantiles(merged)).toEqual(quantiles(filled([...left, ...right])));
    expect(merged.count).toBe(9);
  });

  it('writes only occupied bins: a single value takes a few dozen bytes, not a 128-bin chunk', () => {
    expect(sketchToProto(filled([21.5])).length).toBeLessThan(40);
    const lib = new DDSketch();
    lib.accept(21.5);
    expect(lib.toProto().length).toBeGreaterThan(1000);
  });

  it('writes protobuf the library reads, and reads what the library writes', () => {
    const ours = filled(MIXED);
    // Same bins; the library's rebuilt mapping differs in the last bits, hence closeTo.
    const read = quantiles(DDSketch.fromProto(sketchToProto(ours)));
    quantiles(ours).forEach((q, i) => expect(read[i]! / q).toBeCloseTo(1, 12));
    const lib = new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });
    for (const v of MIXED) lib.accept(v);
    const back = sketchFromProto(lib.toProto());
    expect(back.count).toBe(MIXED.length);
    expect(quantiles(back)).toEqual(quantiles(lib));
  });

  it('round-trips exactly: a restored sketch bins later values like the original', () => {
    const a = filled(MIXED);
    const b = sketchFromProto(sketchToProto(a));
    // Bin boundaries gamma^k are where a last-bit difference in the mapping would show.
    const gamma = a.mapping.gamma;
    for (let k = -40; k <= 400; k++) {
      a.accept(gamma ** k);
      b.accept(gamma ** k);
      a.accept(-(gamma ** k));
      b.accept(-(gamma ** k));
    }
    expect(quantiles(b)).toEqual(quantiles(a));
    for (let q = 0; q <= 1; q += 0.001) expect(b.getValueAtQuantile(q)).toBe(a.getValueAtQuantile(q));
  });

  it('bounds memory for absurd ranges by collapsing the lowest bins', () => {
    const s = filled([1e-300, 5, 1e300]);
    expect(s.store.bins.length).toBeLessThanOrEqual(2048);
    expect(s.getValueAtQuantile(1) / 1e300).toBeCloseTo(1, 1);
  });

  it('refuses other accuracies and broken bytes with StateCorruptError', () => {
    const coarse = new DDSketch({ relativeAccuracy: 0.05 });
    coarse.accept(1);
    expect(() => sketchFromProto(coarse.toProto())).toThrow(StateCorruptError);
    const bytes = sketchToProto(filled(MIXED));
    expect(() => sketchFromProto(bytes.subarray(0, bytes.length - 3))).toThrow(StateCorruptError);
    expect(() => sketchFromProto(new Uint8Array([0x0f]))).toThrow(/wire type/);
  });

  it('addValues counts the same bins as accept() one by one, also where a store collapses', () => {
    const cases = [
      MIXED,
      Array.from({ length: 500 }, (_, i) => Math.sin(i) * 10 ** ((i % 7) - 3)),
      [1e-300, 5, 1e300, -1e-300, -1e300, 0, 3], // ranges past the 2048-bin limit
      [0, -0, 0],
    ];
    for (const values of cases) {
      const one = filled(values);
      const bulk = createSketch();
      // In slices, as the window operator adds a run per batch.
      for (let i = 0; i < values.length; i += 7) addValues(bulk, Float64Array.from(values), i, Math.min(values.length, i + 7));
      expect(sketchToProto(bulk)).toEqual(sketchToProto(one));
      expect(quantiles(bulk)).toEqual(quantiles(one));
      expect([bulk.count, bulk.zeroCount, bulk.sum, bulk.min, bulk.max]).toEqual([one.count, one.zeroCount, one.sum, one.min, one.max]);
      expect([bulk.store.count, bulk.negativeStore.count]).toEqual([one.store.count, one.negativeStore.count]);
      // ...and goes on binning later values the same (accept after addValues).
      bulk.accept(0.5);
      one.accept(0.5);
      expect(sketchToProto(bulk)).toEqual(sketchToProto(one));
    }
  });

  it('a SketchKeyMemo hands the keys one sketch computed to the next, which bins exactly as without it', () => {
    const values = Float64Array.from([...MIXED, ...Array.from({ length: 300 }, (_, i) => Math.sin(i) * 10 ** ((i % 7) - 3)), 1e-300, 1e300, -1e300]);
    const memo = new SketchKeyMemo();
    memo.reset(values.length);
    const first = createSketch();
    const second = createSketch();
    const alone = createSketch();
    // The same slices into two sketches, as a tumbling and a sliding window take a run; the second reads the first's keys.
    for (let i = 0; i < values.length; i += 9) {
      const to = Math.min(values.length, i + 9);
      addValues(first, values, i, to, memo);
      addValues(second, values, i, to, memo);
      addValues(alone, values, i, to);
    }
    for (const s of [first, second]) {
      expect(sketchToProto(s)).toEqual(sketchToProto(alone));
      expect([s.count, s.zeroCount, s.sum, s.min, s.max]).toEqual([alone.count, alone.zeroCount, alone.sum, alone.min, alone.max]);
    }
    // Every non-zero value's key was kept (zeros need none), and a key found there is the one used.
    const kept = [...memo.keys.subarray(0, values.length)].filter((k) => k !== -0x80000000).length;
    expect(kept).toBe([...values].filter((v) => v !== 0).length);
    const keyOfOne = memo.keys[MIXED.indexOf(1)]!;
    memo.reset(values.length);
    memo.keys[0] = keyOfOne; // values[0] is −50: binned by this key, it lands where 1 would (in the negative store)
    const planted = createSketch();
    addValues(planted, values, 0, 1, memo);
    const minusOne = createSketch();
    minusOne.accept(-1);
    expect(sketchToProto(planted)).toEqual(sketchToProto(minusOne));
  });

  it('mergeSketch gives the bins, key range and collapse state of the library adding each occupied bin', () => {
    // The library's add per bin, as mergeSketch did before it extended the range once.
    const libraryMerge = (into: Sketch, from: Sketch): void => {
      for (const [a, b] of [[into.store, from.store], [into.negativeStore, from.negativeStore]] as const) for (let i = 0; i < b.bins.length; i++) if (b.bins[i]! > 0) a.add(b.offset + i, b.bins[i]);
      into.zeroCount += from.zeroCount;
      into.count += from.count;
    };
    const state = (x: Sketch): unknown[] => [sketchToProto(x), x.count, x.zeroCount, ...[x.store, x.negativeStore].flatMap((st) => [st.count, st.minKey, st.maxKey, (st as unknown as { isCollapsed: boolean }).isCollapsed])];
    const cases: number[][][] = [
      [MIXED, [0.7, 1.0, 0.99, -7, 1e-3]],
      [[20, 21, 22], [], [19.5, 20.5], [0, -0, -20]], // one pane after another, empty ones too
      [[1, 2, 3], [1e-200, 1e200], [5, 6]], // the second one's range is past the bin limit
      [[1e-300, 1e300], [7, 8, -1e-250, -1e250]], // into collapsed already
      [Array.from({ length: 300 }, (_, i) => Math.sin(i) * 10 ** ((i % 9) - 4)), Array.from({ length: 300 }, (_, i) => Math.cos(i) * 10 ** ((i % 5) - 2))],
    ];
    for (const parts of cases) {
      const fast = createSketch();
      const lib = createSketch();
      for (const p of parts) {
        mergeSketch(fast, filled(p));
        libraryMerge(lib, filled(p));
        expect(state(fast)).toEqual(state(lib));
      }
      expect(quantiles(fast)).toEqual(quantiles(lib));
      fast.accept(0.5); // and bins later values alike
      lib.accept(0.5);
      expect(state(fast)).toEqual(state(lib));
    }
  });

  it('a cleared sketch takes values as a new one does', () => {
    for (const before of [MIXED, [1e-300, 5, 1e300], Array.from({ length: 200 }, (_, i) => i - 100)]) {
      const reused = filled(before);
      clearSketch(reused);
      for (const after of [[20, 21.5, 22], [-1, 0, 1e6], [1e-200, 1e200, 3]]) {
        const fresh = createSketch();
        addValues(fresh, Float64Array.from(after), 0, after.length);
        addValues(reused, Float64Array.from(after), 0, after.length);
        expect(sketchToProto(reused)).toEqual(sketchToProto(fresh));
        expect([reused.count, reused.min, reused.max, reused.sum, reused.store.minKey, reused.store.maxKey]).toEqual([fresh.count, fresh.min, fresh.max, fresh.sum, fresh.store.minKey, fresh.store.maxKey]);
        clearSketch(reused);
      }
    }
  });
});
