import { describe, expect, it } from 'vitest';
import { windowPoint } from './points.js';
import { encodePoint, PointInvalidError } from './sink/index.js';
import type { AggregateResult } from './windowing/accumulator.js';
import type { FiredWindow } from './windowing/fired-window.js';
import { WindowLines } from './window-lines.js';

const START = 1_700_000_000_000;

function result(over: Partial<AggregateResult> = {}): AggregateResult {
  return { count: 3, sum: 6.5, min: 1, max: 3.25, mean: 2.1666666666666665, first: 1, last: 3.25, stddev: 0.9, p50: 2, p90: 3, p99: 3.25, ...over };
}

function fired(over: Partial<FiredWindow> = {}): FiredWindow {
  return { window: 'telemetry_10s', device: 'dev-1', metric: 'temp', deviceTags: '', readingTags: '', start: START, end: START + 10_000, result: result(), ...over };
}

/** A small deterministic generator (mulberry32), so a failure names its seed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('WindowLines', () => {
  it('writes what encodePoint(windowPoint(w)) writes, first and later windows of a series alike', () => {
    const lines = new WindowLines();
    const cases: FiredWindow[] = [
      fired(),
      fired({ start: START + 10_000, result: result({ count: 1, sum: 1e21, min: -0, max: 5e-7, stddev: 0 }) }),
      fired({ deviceTags: 'site=north,zone=a b', readingTags: 'axis=x,site=south' }), // the registry's site wins
      fired({ window: 'per minute', device: 'dev,2', metric: 'a=b', readingTags: 'k=v\\x' }),
      fired({ result: result({ sum: Infinity, stddev: NaN, mean: -Infinity }) }), // left out, the rest kept
      fired({ result: result({ count: 2 ** 53 - 1, p99: -1.7976931348623157e308 }) }),
      fired({ metric: 'ünïcödé', device: 'ä\tb', readingTags: 'emoji=🌡️' }),
    ];
    for (const w of [...cases, ...cases]) expect(lines.encode(w)).toEqual(encodePoint(windowPoint(w)));
  });

  it('matches encodePoint over 5 000 random windows of a few hundred series, with a small cache that starts again', () => {
    const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const values = [0, -0, 1, -2.5, 0.1, 1 / 3, 1e-7, 1e21, 123456789.125, -1e300, Infinity, -Infinity, NaN];
    const fields = ['sum', 'min', 'max', 'mean', 'first', 'last', 'stddev', 'p50', 'p90', 'p99'] as const;
    for (const seed of [1, 2, 3]) {
      const r = random(seed);
      const lines = new WindowLines(50);
      for (let i = 0; i < 5000; i++) {
        const over: Partial<AggregateResult> = { count: Math.floor(r() * 1000) + 1 };
        for (const f of fields) over[f] = pick(r, values);
        const w = fired({
          window: pick(r, ['telemetry_10s', 'telemetry_1m', 'a b']),
          device: `d${Math.floor(r() * 40)}${pick(r, ['', ' x', ',y', '=z'])}`,
          metric: pick(r, ['temp', 'hum', 'vib', 'p=1']),
          deviceTags: pick(r, ['', 'site=a', 'site=b,zone=1']),
          readingTags: pick(r, ['', 'axis=x', 'site=c']),
          start: START + Math.floor(r() * 100) * 10_000,
          result: result(over),
        });
        expect(lines.encode(w), `seed ${seed}, window ${i}`).toEqual(encodePoint(windowPoint(w)));
      }
    }
  });

  it('refuses what encodePoint refuses, with its error', () => {
    const lines = new WindowLines();
    for (const w of [fired({ device: 'bad\\' }), fired({ metric: 'm\\ x' }), fired({ start: START + 0.5 }), fired({ window: '' })]) {
      let expected: unknown;
      try {
        encodePoint(windowPoint(w));
      } catch (err) {
        expected = err;
      }
      expect(expected).toBeInstanceOf(PointInvalidError);
      expect(() => lines.encode(w)).toThrow((expected as Error).message);
    }
  });
});
