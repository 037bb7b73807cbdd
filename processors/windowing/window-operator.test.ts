import { describe, expect, it } from 'vitest';
import { StateCorruptError, StateMismatchError } from '../errors.js';
import { makeBatch, type TestMessage } from './testing/batches.js';
import { WindowOperator } from './window-operator.js';
import type { WindowSpec } from './window-spec.js';

const TUMBLING: WindowSpec = { name: 'w10', type: 'tumbling', size: 10_000 };
const all = (): boolean => true;
const msg = (device: string, readings: TestMessage['readings'], extra: Partial<TestMessage> = {}): TestMessage => ({ device, readings, ...extra });

function op(spec: WindowSpec = TUMBLING, allowedLateness = 30_000): WindowOperator {
  return new WindowOperator(spec, { allowedLateness });
}

describe('WindowOperator: tumbling, on time', () => {
  it('fires a window once the watermark reaches its end, with point time = start', () => {
    const o = op();
    o.processBatch(makeBatch([msg('a', [['temp', 1_000, 20], ['temp', 9_999, 24], ['temp', 5_000, 22], ['temp', 10_000, 99]])]), all);
    expect(o.onWatermark(9_999)).toEqual([]);
    const [w, ...rest] = o.onWatermark(10_000);
    expect(rest).toEqual([]);
    expect(w).toMatchObject({ window: 'w10', device: 'a', metric: 'temp', deviceTags: '', readingTags: '', start: 0, end: 10_000 });
    expect(w!.result).toMatchObject({ count: 3, sum: 66, min: 20, max: 24, mean: 22, first: 20, last: 24 });
    expect(w!.result.stddev).toBeCloseTo(Math.sqrt(8 / 3), 12);
    expect(w!.result.p50 / 22).toBeCloseTo(1, 1);
    expect(o.onWatermark(10_000)).toEqual([]); // fires once
    expect(o.onWatermark(20_000).map((x) => [x.start, x.result.count])).toEqual([[10_000, 1]]);
  });

  it('keys by device, metric, reading tags and device tags', () => {
    const o = op();
    o.processBatch(
      makeBatch([
        msg('a', [['t', 1, 1], ['t', 2, 2, 'probe=1'], ['h', 3, 3]]),
        msg('a', [['t', 4, 4]], { deviceTags: 'site=oslo' }),
        msg('b', [['t', 5, 5], ['t', 6, 6, 'probe=1']]),
        msg('a', [['t', 7, 7, 'probe=1']]),
      ]),
      all,
    );
    const out = o.onWatermark(10_000).map((w) => [w.device, w.metric, w.readingTags, w.deviceTags, w.result.count, w.result.sum]);
    // ordered by end, then by when the key was first seen
    expect(out).toEqual([
      ['a', 't', '', '', 1, 1],
      ['a', 't', 'probe=1', '', 2, 9],
      ['a', 'h', '', '', 1, 3],
      ['a', 't', '', 'site=oslo', 1, 4],
      ['b', 't', '', '', 1, 5],
      ['b', 't', 'probe=1', '', 1, 6],
    ]);
  });

  it('skips messages the gateway dropped and those the caller rejects, without asking about them needlessly', () => {
    const o = op();
    const asked: number[] = [];
    const batch = makeBatch([msg('a', [['t', 1, 1]]), msg('a', [['t', 2, 100]], { dropped: true }), msg('a', [['t', 3, 1000]]), msg('a', []), msg('a', [['t', 4, 10]])]);
    o.processBatch(batch, (i) => (asked.push(i), i !== 2));
    expect(asked).toEqual([0, 2, 4]);
    expect(o.onWatermark(10_000)[0]!.result).toMatchObject({ count: 2, sum: 11 });
  });

  it('counts and skips non-finite values and times outside the Date range', () => {
    const o = op();
    o.processBatch(makeBatch([msg('a', [['t', 1, NaN], ['t', 2, Infinity], ['t', 9e15, 1], ['t', 3, 5]])], { encode: false }), all);
    expect(o.stats).toMatchObject({ readings: 1, invalid: 3 });
    expect(o.onWatermark(10_000)[0]!.result.count).toBe(1);
  });

  it('handles negative times', () => {
    const o = op();
    o.processBatch(makeBatch([msg('a', [['t', -1, 1], ['t', -10_000, 2], ['t', -10_001, 3]])]), all);
    expect(o.onWatermark(0).map((w) => [w.start, w.end, w.result.count])).toEqual([
      [-20_000, -10_000, 1],
      [-10_000, 0, 2],
    ]);
  });
});

describe('WindowOperator: lateness', () => {
  it('re-fires a fired window with the corrected aggregate for a reading within allowedLateness', () => {
    const o = op();
    o.processBatch(makeBatch([msg('a', [['t', 1_000, 10], ['t', 2_000, 20]])]), all);
    expect(o.onWatermark(12_000)[0]!.result).toMatchObject({ count: 2, sum: 30, first: 10, last: 20 });
    o.processBatch(makeBatch([msg('a', [['t', 500, 5], ['t', 9_999, 50]])]), all); // late, but end + 30 s > 12 s
    const again = o.onWatermark(12_000);
    expect(again.map((w) => [w.start, w.end])).toEqual([[0, 10_000]]);
    expect(again[0]!.result).toMatchObject({ count: 4, sum: 85, min: 5, max: 50, first: 5, last: 50 });
    expect(o.stats).toMatchObject({ fired: 1, refired: 1, late: 0 });
    expect(o.onWatermark(12_000)).toEqual([]); // nothing new: no re-fire
    expect(o.drainLate()).toEqual([]);
  });

  it('sends readings after end + allowedLateness to the late output and keeps no state for them', () => {
    const o = op();
    o.processBatch(makeBatch([msg('a', [['t', 1_000, 10]])]), all);
    o.onWatermark(39_999);
    expect(o.stateSize).toEqual({ keys: 1, windows: 1 }); // kept until end + lateness
    o.onWatermark(40_000);
    expect(o.stateSize).toEqual({ keys: 0, windows: 0 });
    o.processBatch(makeBatch([msg('a', [['t', 9_999, 7, 'x=1']], { deviceTags: 'site=1' }), msg('b', [['t', 45_000, 1]])]), all);
    expect(o.drainLate()).toEqual([{ window: 'w10', device: 'a', metric: 't', deviceTags: 'site=1', readingTags: 'x=1', time: 9_999, value: 7 }]);
    expect(o.drainLate()).toEqual([]);
    expect(o.stats.late).toBe(1);
    expect(o.stateSize).toEqual({ keys: 1, windows: 1 }); // b only: a's key was not kept for a late reading
    expect(o.onWatermark(40_000)).toEqual([]);
  });

  it('with allowedLateness 0 fires and forgets at once', () => {
    const o = op(TUMBLING, 0);
    o.processBatch(makeBatch([msg('a', [['t', 1, 1]])]), all);
    expect(o.onWatermark(10_000)).toHaveLength(1);
    expect(o.stateSize.windows).toBe(0);
    o.processBatch(makeBatch([msg('a', [['t', 9_999, 1]])]), all);
    expect(o.drainLate()).toHaveLength(1);
  });

  it('fires at once a window first seen after its end but within lateness', () => {
    const o = op();
    o.onWatermark(25_000);
    o.processBatch(makeBatch([msg('a', [['t', 1_000, 3]])]), all);
    expect(o.onWatermark(25_000).map((w) => [w.start, w.result.count])).toEqual([[0, 1]]);
    expect(o.stats).toMatchObject({ fired: 1, refired: 0 });
  });

  it('never moves the watermark back', () => {
    const o = op();
    o.onWatermark(50_000);
    o.onWatermark(0);
    expect(o.watermark).toBe(50_000);
    o.processBatch(makeBatch([msg('a', [['t', 15_000, 1]])]), all);
    expect(o.drainLate()).toHaveLength(1);
  });
});

describe('WindowOperator: sliding', () => {
  const SLIDING: WindowSpec = { name: 's', type: 'sliding', size: 10_000, slide: 5_000 };

  it('adds a reading to every window holding it', () => {
    const o = op(SLIDING);
    o.processBatch(makeBatch([msg('a', [['t', 7_000, 1], ['t', 12_000, 2]])]), all);
    const out = o.onWatermark(20_000).map((w) => [w.start, w.end, w.result.count, w.result.sum]);
    expect(out).toEqual([
      [0, 10_000, 1, 1],
      [5_000, 15_000, 2, 3],
      [10_000, 20_000, 1, 2],
    ]);
  });

  it('is late only for the windows already purged', () => {
    const o = op(SLIDING, 0);
    o.onWatermark(12_000);
    o.processBatch(makeBatch([msg('a', [['t', 7_000, 1]])]), all); // [0,10 s) is gone, [5 s,15 s) is not
    expect(o.drainLate()).toEqual([]);
    expect(o.onWatermark(15_000).map((w) => [w.start, w.result.count])).toEqual([[5_000, 1]]);
    o.processBatch(makeBatch([msg('a', [['t', 9_000, 1]])]), all);
    expect(o.drainLate()).toHaveLength(1);
  });
});

describe('WindowOperator: sessions', () => {
  const SESSION: WindowSpec = { name: 'sess', type: 'session', gap: 5_000 };

  it('fires a session when the watermark passes last reading + gap', () => {
    const o = op(SESSION);
    o.processBatch(makeBatch([msg('a', [['t', 0, 1], ['t', 5_000, 2], ['t', 8_000, 3], ['t', 20_000, 9]])]), all);
    expect(o.onWatermark(13_000)).toEqual([]);
    const out = o.onWatermark(13_001);
    expect(out.map((w) => [w.start, w.end, w.result.count, w.result.sum])).toEqual([[0, 13_001, 3, 6]]);
    expect(out[0]!.supersedes).toBeUndefined();
  });

  it('merges two fired sessions bridged by a late reading, and says which point is stale', () => {
    const o = op(SESSION);
    o.processBatch(makeBatch([msg('a', [['t', 0, 1], ['t', 10_000, 2]])]), all);
    expect(o.onWatermark(16_000).map((w) => w.start)).toEqual([0, 10_000]);
    o.processBatch(makeBatch([msg('a', [['t', 5_000, 4]])]), all); // within 5 s of both
    const out = o.onWatermark(16_000);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ start: 0, end: 15_001, supersedes: [10_000], result: { count: 3, sum: 7, first: 1, last: 2 } });
    expect(o.stateSize).toEqual({ keys: 1, windows: 1 });
  });

  it('re-opens a fired session extended past the watermark and fires it again when it closes', () => {
    const o = op(SESSION);
    o.processBatch(makeBatch([msg('a', [['t', 0, 1]])]), all);
    expect(o.onWatermark(6_000)).toHaveLength(1);
    o.processBatch(makeBatch([msg('a', [['t', 4_000, 1]])]), all); // end moves to 9 001 > 6 000
    expect(o.onWatermark(9_000)).toEqual([]);
    expect(o.onWatermark(9_001).map((w) => [w.start, w.end, w.result.count])).toEqual([[0, 9_001, 2]]);
  });

  it('reports the old start as stale when a late reading moves a fired session earlier', () => {
    const o = op(SESSION);
    o.processBatch(makeBatch([msg('a', [['t', 10_000, 1]])]), all);
    o.onWatermark(15_001);
    o.processBatch(makeBatch([msg('a', [['t', 6_000, 1]])]), all);
    expect(o.onWatermark(15_001)).toMatchObject([{ start: 6_000, end: 15_001, supersedes: [10_000] }]);
  });

  it('is late only when the merged session is past cleanup', () => {
    const o = op(SESSION, 1_000);
    o.processBatch(makeBatch([msg('a', [['t', 0, 1]])]), all);
    o.onWatermark(6_000);
    o.processBatch(makeBatch([msg('a', [['t', -100, 1]])]), all); // merges into [0, 5 001): kept until 6 001
    expect(o.drainLate()).toEqual([]);
    o.onWatermark(7_000);
    o.processBatch(makeBatch([msg('a', [['t', 500, 1]])]), all); // session purged; [500, 5 501) + 1 s ≤ 7 s
    expect(o.drainLate()).toHaveLength(1);
  });
});

describe('WindowOperator: snapshots', () => {
  it('refuses another window shape and corrupt bytes', () => {
    const o = op();
    o.processBatch(makeBatch([msg('a', [['t', 1, 1]])]), all);
    const snap = o.snapshot();
    expect(() => WindowOperator.restore({ name: 'w10', type: 'tumbling', size: 5_000 }, { allowedLateness: 0 }, snap)).toThrow(StateMismatchError);
    expect(() => WindowOperator.restore({ name: 'x', type: 'session', gap: 10_000 }, { allowedLateness: 0 }, snap)).toThrow(/tumbling size=10000/);
    expect(WindowOperator.restore({ name: 'renamed', type: 'tumbling', size: 10_000 }, { allowedLateness: 0 }, snap).onWatermark(10_000)[0]!.window).toBe('renamed');
    expect(() => WindowOperator.restore(TUMBLING, { allowedLateness: 0 }, snap.subarray(0, snap.length - 1))).toThrow(StateCorruptError);
    expect(() => WindowOperator.restore(TUMBLING, { allowedLateness: 0 }, new Uint8Array(64))).toThrow(/not a window operator snapshot/);
  });

  it('keeps a pending re-fire across a restore', () => {
    const o = op();
    o.processBatch(makeBatch([msg('a', [['t', 1, 1]])]), all);
    o.onWatermark(10_000);
    o.processBatch(makeBatch([msg('a', [['t', 2, 2]])]), all);
    const back = WindowOperator.restore(TUMBLING, { allowedLateness: 30_000 }, o.snapshot());
    expect(back.onWatermark(10_000).map((w) => w.result.count)).toEqual([2]);
    expect(back.stats).toMatchObject({ fired: 1, refired: 1 });
  });
});
