import { describe, expect, it } from 'vitest';
import { ReadingBatch, readSeriesOnlyBatch, type ISeries } from './index.js';
import { prefixesAndMutations, rng } from './testing/payload-variants.js';

const SPECIAL = [0, -0, 1.5, -2.25, 1e308, -1e-308, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53 + 2];

function randomSeries(r: () => number): ISeries {
  const n = Math.floor(r() * 40);
  const big = r() < 0.2;
  return {
    metric: r() < 0.1 ? '' : `m${Math.floor(r() * 9)}.é`,
    startUnixMs: r() < 0.2 ? 0 : Math.floor((r() - 0.3) * 2 ** (big ? 60 : 41)),
    timeDeltaMs: Array.from({ length: n }, () => Math.floor((r() - 0.5) * (big ? 2 ** 62 : 20_000))),
    values: Array.from({ length: r() < 0.1 ? n + 1 : n }, () => (r() < 0.1 ? SPECIAL[Math.floor(r() * SPECIAL.length)]! : (r() - 0.5) * 1e4)),
  };
}

/** What the generated decoder makes of the bytes, in the reader's shape; 'throws' when it refuses them. */
function generated(bytes: Uint8Array): unknown {
  let decoded;
  try {
    decoded = ReadingBatch.decode(bytes);
  } catch {
    return 'throws';
  }
  if (decoded.readings.length > 0) return 'has readings';
  const num = (v: unknown): number => (typeof v === 'number' ? v : (v as { toNumber(): number }).toNumber());
  return {
    seq: num(decoded.seq),
    series: decoded.series.map((s) => ({ metric: s.metric, startUnixMs: num(s.startUnixMs), timeDeltaMs: [...(s.timeDeltaMs ?? [])].map(num), values: [...(s.values ?? [])] })),
  };
}

function fast(bytes: Uint8Array): unknown {
  const b = readSeriesOnlyBatch(bytes);
  if (b === undefined) return undefined;
  const series = Array.from({ length: b.count }, (_, k) => ({
    metric: b.metric[k],
    startUnixMs: b.start[k],
    timeDeltaMs: [...b.deltas.subarray(b.deltaAt[k], b.deltaAt[k]! + b.deltaCount[k]!)],
    values: [...b.values.subarray(b.valueAt[k], b.valueAt[k]! + b.valueCount[k]!)],
  }));
  return { seq: b.seq, series };
}

describe('readSeriesOnlyBatch', () => {
  it('reads Series-only batches exactly as the generated decoder does, past its scratch arrays', () => {
    const r = rng(7);
    for (let i = 0; i < 300; i++) {
      const series = Array.from({ length: i === 0 ? 60 : 1 + Math.floor(r() * 5) }, () => randomSeries(r));
      const seq = r() < 0.2 ? 0 : Math.floor(r() * 2 ** (r() < 0.2 ? 63 : 40));
      const bytes = ReadingBatch.encode({ seq, series }).finish();
      const got = fast(bytes);
      expect(got, `case ${i}`).toBeDefined();
      expect(got, `case ${i}`).toEqual(generated(bytes));
    }
  });

  it('leaves every other shape to the generated decoder', () => {
    const s = { metric: 'temp', startUnixMs: 1_700_000_000_000, timeDeltaMs: [0, 10], values: [1, 2] };
    const plain = ReadingBatch.encode({ seq: 3, series: [s] }).finish();
    const cases: [string, Uint8Array][] = [
      ['a reading', ReadingBatch.encode({ seq: 3, series: [s], readings: [{ metric: 'x', doubleValue: 1 }] }).finish()],
      ['an unknown field', Uint8Array.from([...plain, (9 << 3) | 0, 1])],
      ['seq twice', Uint8Array.from([...plain.subarray(0, 2), ...plain])],
      ['seq after a Series', Uint8Array.from([...plain.subarray(2), ...plain.subarray(0, 2)])],
      // Series field 3 unpacked: tag (3 << 3) | 0 and a zigzag varint, inside a Series of its own.
      ['unpacked deltas', Uint8Array.from([(3 << 3) | 2, 2, (3 << 3) | 0, 4])],
      ['values not a multiple of 8 bytes', Uint8Array.from([(3 << 3) | 2, 5, (4 << 3) | 2, 3, 0, 0, 0])],
      ['a metric twice', Uint8Array.from([(3 << 3) | 2, 6, (1 << 3) | 2, 1, 97, (1 << 3) | 2, 1, 98])],
      ['a packed delta cut short', Uint8Array.from([(3 << 3) | 2, 4, (3 << 3) | 2, 2, 0x02, 0x80])],
      ['invalid UTF-8', Uint8Array.from([(3 << 3) | 2, 3, (1 << 3) | 2, 1, 0xff])],
    ];
    for (const [label, bytes] of cases) expect(readSeriesOnlyBatch(bytes), label).toBeUndefined();
    expect(fast(plain)).toEqual(generated(plain));
  });

  it('on every prefix and single-byte change of a payload, reads it as the generated decoder does or leaves it to it', () => {
    const r = rng(11);
    const bytes = ReadingBatch.encode({ seq: 99, series: [randomSeries(r), randomSeries(r), { metric: 'v', timeDeltaMs: [1, -1, 300], values: [1, 2, 3] }] }).finish();
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

  it('reads metric names right past its name cache: thousands of names, colliding slots, long and non-ASCII names', () => {
    const r = rng(23);
    const names = Array.from({ length: 3000 }, (_, i) => (i % 7 === 0 ? `name-${i}-${'x'.repeat(60)}` : i % 5 === 0 ? `größe.${i}` : `m${i}`));
    for (let i = 0; i < 2000; i++) {
      const series = Array.from({ length: 1 + (i % 4) }, (_, j) => ({ metric: names[Math.floor(r() * names.length)]!, startUnixMs: 1_700_000_000_000 + j, timeDeltaMs: [0, 1], values: [i, j] }));
      const bytes = ReadingBatch.encode({ seq: i, series }).finish();
      expect(fast(bytes), `case ${i}`).toEqual(generated(bytes));
    }
  });

  it('reads payloads at any offset of a shared buffer, alternating between buffers', () => {
    const r = rng(31);
    const payloads = Array.from({ length: 40 }, (_, i) => ReadingBatch.encode({ seq: i, series: [randomSeries(r), randomSeries(r)] }).finish());
    const pools = [new Uint8Array(1 << 16), new Uint8Array(1 << 16)];
    const placed: Uint8Array[] = [];
    const used = [0, 0];
    for (const [i, p] of payloads.entries()) {
      const pool = i % 2;
      const at = used[pool]! + 1 + (i % 7); // odd offsets too: doubles need not be aligned
      pools[pool]!.set(p, at);
      placed.push(pools[pool]!.subarray(at, at + p.length));
      used[pool] = at + p.length;
    }
    for (const [i, p] of placed.entries()) expect(fast(p), `payload ${i}`).toEqual(generated(payloads[i]!));
  });
});
