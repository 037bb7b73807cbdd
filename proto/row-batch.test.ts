import { describe, expect, it } from 'vitest';
import { ReadingBatch, readRowOnlyBatch, readSeriesOnlyBatch, type IReading } from './index.js';
import { prefixesAndMutations, rng } from './testing/payload-variants.js';

const SPECIAL = [0, -0, 1.5, -2.25, 1e308, -1e-308, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53 + 2];

function randomRow(r: () => number): IReading {
  const big = r() < 0.2;
  return {
    metric: r() < 0.1 ? '' : `m${Math.floor(r() * 9)}.é`,
    timeUnixMs: r() < 0.2 ? 0 : Math.floor((r() - 0.3) * 2 ** (big ? 60 : 41)),
    doubleValue: r() < 0.2 ? SPECIAL[Math.floor(r() * SPECIAL.length)]! : (r() - 0.5) * 1e4,
  };
}

const num = (v: unknown): number => (typeof v === 'number' ? v : (v as { toNumber(): number }).toNumber());

/** What the generated decoder makes of the bytes, in the reader's shape; 'throws' when it refuses them. */
function generated(bytes: Uint8Array): unknown {
  let decoded;
  try {
    decoded = ReadingBatch.decode(bytes);
  } catch {
    return 'throws';
  }
  if (decoded.series.length > 0) return 'has series';
  return {
    seq: num(decoded.seq),
    rows: decoded.readings.map((x) => ({ metric: x.metric, time: num(x.timeUnixMs), value: x.doubleValue })),
  };
}

function fast(bytes: Uint8Array): unknown {
  const b = readRowOnlyBatch(bytes);
  if (b === undefined) return undefined;
  expect(b.fromRows).toBe(true);
  const rows = Array.from({ length: b.count }, (_, k) => {
    // Each row is a Series of one value at delta 0.
    expect([b.deltaCount[k], b.valueCount[k], b.deltas[b.deltaAt[k]!]]).toEqual([1, 1, 0]);
    return { metric: b.metric[k], time: b.start[k], value: b.values[b.valueAt[k]!] };
  });
  return { seq: b.seq, rows };
}

describe('readRowOnlyBatch', () => {
  it('reads batches of untagged double readings exactly as the generated decoder does, past its scratch arrays', () => {
    const r = rng(5);
    for (let i = 0; i < 300; i++) {
      const readings = Array.from({ length: i === 0 ? 2000 : 1 + Math.floor(r() * 8) }, () => randomRow(r));
      const seq = r() < 0.2 ? 0 : Math.floor(r() * 2 ** (r() < 0.2 ? 63 : 40));
      const bytes = ReadingBatch.encode({ seq, readings }).finish();
      const got = fast(bytes);
      expect(got, `case ${i}`).toBeDefined();
      expect(got, `case ${i}`).toEqual(generated(bytes));
    }
  });

  it('takes fields in any order within a reading', () => {
    // time (field 2), then double_value (3), then metric (1)
    const bytes = Uint8Array.from([(2 << 3) | 2, 14, (2 << 3) | 0, 5, (3 << 3) | 1, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, (1 << 3) | 2, 1, 120]);
    expect(fast(bytes)).toEqual({ seq: 0, rows: [{ metric: 'x', time: 5, value: 1.5 }] });
    expect(fast(bytes)).toEqual(generated(bytes));
  });

  it('leaves every other shape to the generated decoder, and Series-only batches to readSeriesOnlyBatch', () => {
    const row = { metric: 'temp', timeUnixMs: 1_700_000_000_000, doubleValue: 1 };
    const plain = ReadingBatch.encode({ seq: 3, readings: [row] }).finish();
    const cases: [string, Uint8Array][] = [
      ['tags', ReadingBatch.encode({ seq: 3, readings: [{ ...row, tags: { site: 'a' } }] }).finish()],
      ['an int value', ReadingBatch.encode({ seq: 3, readings: [row, { metric: 'n', intValue: 4 }] }).finish()],
      ['a bool value', ReadingBatch.encode({ seq: 3, readings: [{ metric: 'b', boolValue: true }] }).finish()],
      ['a string value', ReadingBatch.encode({ seq: 3, readings: [{ metric: 's', stringValue: 'on' }] }).finish()],
      ['no value', ReadingBatch.encode({ seq: 3, readings: [{ metric: 'temp', timeUnixMs: 5 }] }).finish()],
      ['a Series too', ReadingBatch.encode({ seq: 3, readings: [row], series: [{ metric: 'v', timeDeltaMs: [0], values: [1] }] }).finish()],
      ['an unknown field', Uint8Array.from([...plain, (9 << 3) | 0, 1])],
      ['seq twice', Uint8Array.from([...plain.subarray(0, 2), ...plain])],
      ['seq after a reading', Uint8Array.from([...plain.subarray(2), ...plain.subarray(0, 2)])],
      ['a metric twice', Uint8Array.from([(2 << 3) | 2, 15, (1 << 3) | 2, 1, 97, (1 << 3) | 2, 1, 98, (3 << 3) | 1, 0, 0, 0, 0, 0, 0, 0, 0])],
      ['a value twice', Uint8Array.from([(2 << 3) | 2, 18, (3 << 3) | 1, 0, 0, 0, 0, 0, 0, 0, 0, (3 << 3) | 1, 0, 0, 0, 0, 0, 0, 0, 0])],
      ['a value cut short', Uint8Array.from([(2 << 3) | 2, 5, (3 << 3) | 1, 0, 0, 0, 0])],
      ['invalid UTF-8', Uint8Array.from([(2 << 3) | 2, 12, (1 << 3) | 2, 1, 0xff, (3 << 3) | 1, 0, 0, 0, 0, 0, 0, 0, 0])],
    ];
    for (const [label, bytes] of cases) expect(readRowOnlyBatch(bytes), label).toBeUndefined();
    const series = ReadingBatch.encode({ seq: 3, series: [{ metric: 'v', timeDeltaMs: [0], values: [1] }] }).finish();
    expect(readRowOnlyBatch(series)).toBeUndefined();
    expect(readSeriesOnlyBatch(series)?.fromRows).toBe(false);
    expect(fast(plain)).toEqual(generated(plain));
  });

  it('on every prefix and single-byte change of a payload, reads it as the generated decoder does or leaves it to it', () => {
    const r = rng(13);
    const bytes = ReadingBatch.encode({ seq: 99, readings: [randomRow(r), randomRow(r), { metric: 'v', timeUnixMs: 300, doubleValue: 2 }, randomRow(r)] }).finish();
    const variants = prefixesAndMutations(bytes, r);
    let taken = 0;
    for (const [k, v] of variants.entries()) {
      const got = fast(v);
      if (got === undefined) continue;
      taken++;
      expect(got, `variant ${k}`).toEqual(generated(v));
    }
    expect(taken).toBeGreaterThan(50);
  });

  it('reads payloads at any offset of a shared buffer, alternating with Series-only reads', () => {
    const r = rng(37);
    const payloads = Array.from({ length: 40 }, (_, i) => ReadingBatch.encode({ seq: i, readings: [randomRow(r), randomRow(r)] }).finish());
    const pool = new Uint8Array(1 << 16);
    const series = ReadingBatch.encode({ seq: 1, series: [{ metric: 'm1.é', startUnixMs: 9, timeDeltaMs: [0, 1, 2], values: [7, 8, 9] }] }).finish();
    let used = 0;
    for (const [i, p] of payloads.entries()) {
      const at = used + 1 + (i % 7); // odd offsets too: doubles need not be aligned
      pool.set(p, at);
      used = at + p.length;
      expect(readSeriesOnlyBatch(series)?.count).toBe(1);
      expect(fast(pool.subarray(at, at + p.length)), `payload ${i}`).toEqual(generated(p));
    }
  });
});
