import { compress } from 'snappy';
import snappyjs from 'snappyjs';
import { describe, expect, it } from 'vitest';
import { ColumnarBatchBuilder } from './columnar-batch-builder.js';
import { readUncompressedLength, uncompressInto } from './snappy-uncompress.js';

/** Bytes that compress poorly (a xorshift stream) with stretches of one byte (overlapping copies) and a repeated phrase (distant copies). */
function data(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const zone = Math.floor(i / 700) % 3;
    out[i] = zone === 0 ? x & 0xff : zone === 1 ? 7 : 'a repeated phrase, '.charCodeAt(i % 19);
  }
  return out;
}

function seriesRecord(devices: number): Uint8Array {
  const b = new ColumnarBatchBuilder(1, 1_700_000_000_000);
  for (let d = 0; d < devices; d++) {
    b.beginMessage(b.intern(`dev-${d}`), 0, d + 1);
    const deltas = Array.from({ length: 100 }, (_, i) => i * 10);
    b.addNumericRun(b.intern('temp'), 0, 1_700_000_000_000 + d, deltas, deltas.map((v) => 20 + Math.sin(v)));
  }
  return b.encode();
}

function uncompress(block: Uint8Array): Uint8Array | undefined {
  const header = readUncompressedLength(block);
  if (header === undefined) return undefined;
  const out = new Uint8Array(header.length);
  return uncompressInto(block, header.at, out) ? out : undefined;
}

const same = (a: Uint8Array | undefined, b: Uint8Array): boolean => a !== undefined && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);

describe('uncompressInto', () => {
  const inputs: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['one byte', Uint8Array.of(42)],
    ['3 KB mixed', data(3000, 1)],
    ['70 KB mixed (past one 64 KB snappy block)', data(70_000, 2)],
    ['300 KB mixed', data(300_000, 3)],
    ['a columnar record of Series', seriesRecord(50)],
  ];

  it('uncompresses what snappyjs and native snappy compress, byte for byte', async () => {
    for (const [label, bytes] of inputs) {
      expect(same(uncompress(snappyjs.compress(bytes)), bytes), `${label} via snappyjs`).toBe(true);
      expect(same(uncompress(await compress(Buffer.from(bytes))), bytes), `${label} via native snappy`).toBe(true);
    }
  });

  it('refuses every truncation of a block, on element boundaries too', () => {
    for (const bytes of [data(3000, 4), seriesRecord(3)]) {
      const block = snappyjs.compress(bytes);
      for (let cut = 0; cut < block.length; cut++) expect(uncompress(block.subarray(0, cut)), `cut at ${cut} of ${block.length}`).toBeUndefined();
    }
  });

  it('reads every literal length form and copies with 1-, 2- and 4-byte offsets', () => {
    const literal = data(70_000, 5).subarray(0, 66_000);
    // Literal of 66 000 bytes (a 3-byte length: tag 62 << 2), then copies of its first bytes.
    const len = literal.length - 1;
    const block = Uint8Array.from([
      ...varint(literal.length + 4 + 10 + 64 + 5),
      62 << 2, len & 0xff, (len >> 8) & 0xff, len >> 16, ...literal,
      1 | (0 << 2) | (0 << 5), 9, // 1-byte offset: 4 bytes from 9 back
      2 | (9 << 2), 0x10, 0x00, // 2-byte offset 16: 10 bytes
      3 | (63 << 2), 0xd0, 0x01, 0x01, 0x00, // 4-byte offset 66 000: 64 bytes, the literal's start
      3 | (4 << 2), 1, 0, 0, 0, // 4-byte offset 1: 5 bytes repeating the last one
    ]);
    const out = uncompress(block)!;
    expect(out).toBeDefined();
    const n = literal.length;
    expect(same(out.subarray(0, n), literal)).toBe(true);
    expect([...out.subarray(n, n + 4)]).toEqual([...out.subarray(n - 9, n - 5)]);
    expect([...out.subarray(n + 4, n + 14)]).toEqual([...out.subarray(n + 4 - 16, n - 2)]);
    expect(same(out.subarray(n + 14, n + 78), literal.subarray(n + 14 - 66_000, n + 78 - 66_000))).toBe(true);
    expect([...out.subarray(n + 78)]).toEqual(new Array(5).fill(out[n + 77]));
  });

  it('refuses a copy from before the start, a zero offset, and output past the declared length', () => {
    expect(uncompress(Uint8Array.of(8, 3 << 2, 1, 2, 3, 4, 1 | (0 << 2), 5))).toBeUndefined(); // offset 5 > 4 written
    expect(uncompress(Uint8Array.of(8, 3 << 2, 1, 2, 3, 4, 1 | (0 << 2), 0))).toBeUndefined(); // offset 0
    expect(uncompress(Uint8Array.of(3, 3 << 2, 1, 2, 3, 4))).toBeUndefined(); // 4 literal bytes, 3 declared
    expect(uncompress(Uint8Array.of(8, 3 << 2, 1, 2, 3, 4, 1 | (0 << 2), 4))).toEqual(Uint8Array.of(1, 2, 3, 4, 1, 2, 3, 4));
    expect(readUncompressedLength(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0x01))).toBeUndefined();
  });
});

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
