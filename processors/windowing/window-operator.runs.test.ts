import { describe, expect, it } from 'vitest';
import { makeBatch, prng, type TestMessage } from './testing/batches.js';
import { WindowOperator } from './window-operator.js';
import type { WindowSpec } from './window-spec.js';

/**
 * processBatch adds a run of one key's readings that fall in the same windows in one loop
 * per window. Fed the same readings one per message instead (no runs), an operator must
 * end up with exactly the same output, late readings, counters and snapshot bytes.
 */
const SPECS: WindowSpec[] = [
  { name: 'tumbling', type: 'tumbling', size: 10_000 },
  { name: 'sliding', type: 'sliding', size: 10_000, slide: 5_000 },
  { name: 'uneven', type: 'sliding', size: 10_000, slide: 3_000 }, // slide does not divide size
  { name: 'session', type: 'session', gap: 4_000 },
];

type Reading = TestMessage['readings'][number];

/** Series-like messages: per device, runs of a metric's readings, mostly in order, some late, some invalid. */
function stream(seed: number, rounds: number): TestMessage[][] {
  const rnd = prng(seed);
  const batches: TestMessage[][] = [];
  for (let round = 0; round < rounds; round++) {
    const messages: TestMessage[] = [];
    for (const device of ['a', 'b', 'c']) {
      const readings: Reading[] = [];
      for (const metric of ['t', 'h']) {
        const tags = rnd() < 0.2 ? 'unit=c' : '';
        const n = 1 + Math.floor(rnd() * 12);
        for (let i = 0; i < n; i++) {
          let time = round * 2_500 + Math.floor(rnd() * 4_000) - 30_000; // negative times too
          if (rnd() < 0.08) time -= 40_000 + Math.floor(rnd() * 20_000); // late, or in a window still within lateness
          if (rnd() < 0.1) time += 0.25; // not a whole ms: windowStart() decides
          let value = Math.round((rnd() - 0.4) * 1e4) / 100;
          if (rnd() < 0.03) value = NaN;
          if (rnd() < 0.02) time = 9e15; // outside the Date range
          readings.push([metric, time, value, tags]);
        }
      }
      messages.push({ device, readings });
    }
    batches.push(messages);
  }
  return batches;
}

function run(spec: WindowSpec, batches: TestMessage[][], onePerMessage: boolean): unknown {
  const o = new WindowOperator(spec, { allowedLateness: 5_000 });
  const out: unknown[] = [];
  let wm = -Infinity;
  for (const messages of batches) {
    const split = onePerMessage ? messages.flatMap((m) => m.readings.map((r) => ({ device: m.device, readings: [r] }))) : messages;
    o.processBatch(makeBatch(split), () => true);
    wm = Math.max(wm, ...messages.flatMap((m) => m.readings.map((r) => r[1]).filter((t) => t < 1e15))) - 3_000;
    out.push(o.onWatermark(wm), o.drainLate());
  }
  out.push(o.onWatermark(Infinity), o.drainLate());
  return { out, stats: o.stats, state: o.stateSize, snapshot: o.snapshot() };
}

describe('WindowOperator: runs of one key', () => {
  for (const spec of SPECS) {
    it(`${spec.name}: a message of runs gives what one reading per message gives, bit for bit`, () => {
      for (const seed of [1, 2, 3, 4, 5]) {
        const batches = stream(seed, 40);
        expect(run(spec, batches, false)).toEqual(run(spec, batches, true));
      }
    });
  }

  it('a run spanning several windows and late readings is split where its windows change', () => {
    const o = new WindowOperator({ name: 's', type: 'sliding', size: 10_000, slide: 5_000 }, { allowedLateness: 0 });
    o.onWatermark(15_000); // [0, 10 s) and [5 s, 15 s) are gone
    o.processBatch(makeBatch([{ device: 'a', readings: [['t', 16_000, 1], ['t', 14_000, 2], ['t', 3_000, 3], ['t', 17_000, 4], ['t', 21_000, 5]] }]), () => true);
    expect(o.drainLate().map((l) => [l.time, l.value])).toEqual([[3_000, 3]]);
    expect(o.onWatermark(Infinity).map((w) => [w.start, w.result.count, w.result.sum])).toEqual([
      [10_000, 3, 7], // 16 s, 14 s, 17 s
      [15_000, 3, 10], // 16 s, 17 s, 21 s
      [20_000, 1, 5],
    ]);
  });
});
