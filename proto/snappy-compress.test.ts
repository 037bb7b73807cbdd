import { uncompress as nativeUncompress } from 'snappy';
import snappyjs from 'snappyjs';
import { describe, expect, it } from 'vitest';
import { ColumnarBatchBuilder } from './columnar-batch-builder.js';
import { maxCompressedLength, snappyCompress, snappyCompressInto } from './snappy-compress.js';
import { readUncompressedLength, uncompressInto } from './snappy-uncompress.js';

/** A xorshift stream: bytes that do not compress. */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Stretches of noise, of one byte (overlapping copies), and of a phrase (distant copies), with lengths that vary so matches end at every alignment. */
function mixed(n: number, seed: number): Uint8Array {
  const out = noise(n, seed);
  const lengths = noise(n, seed + 1);
  for (let i = 0, zone = 0; i < n; zone++) {
    const len = 1 + lengths[zone % n]! * 7;
    const kind = zone % 3;
    for (let j = i; j < Math.min(n, i + len); j++) if (kind === 1) out[j] = 7;
    else if (kind === 2) out[j] = 'a repeated phrase, '.charCodeAt(j % 19);
    i += len;
  }
  return out;
}

function seriesRecord(devices: number): Uint8Array {
  const b = new ColumnarBatchBuilder(1, 1_700_000_000_000);
  for (let d = 0; d < devices; d++) {
    b.beginMessage(b.intern(`sensor-${d}`), 0, d + 1);
    for (const metric of ['temperature', 'humidity', 'pressure']) {
      const deltas = Array.from({ length: 20 }, (_, i) => i * 1000);
      b.addNumericRun(b.intern(metric), 0, 1_700_000_000_000 + d, deltas, deltas.map((v) => Math.round((20 + Math.sin(d + v)) * 100) / 100));
    }
  }
  return b.encode();
}

/** Our own reader, which refuses a block that ends early or overruns. */
function uncompress(block: Uint8Array): Uint8Array | undefined {
  const header = readUncompressedLength(block);
  if (header === undefined) return undefined;
  const out = new Uint8Array(header.length);
  return uncompressInto(block, header.at, out) ? out : undefined;
}

const same = (a: Uint8Array | undefined, b: Uint8Array): boolean => a !== undefined && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);

describe('snappyCompress', () => {
  const inputs: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['one byte', Uint8Array.of(42)],
    ['14 B (under the margin: all literal)', mixed(14, 1)],
    ['15 B', new Uint8Array(15).fill(3)],
    ['16 B', new Uint8Array(16).fill(3)],
    ['3 KB mixed', mixed(3000, 2)],
    ['64 KiB exactly (one fragment)', mixed(65_536, 3)],
    ['64 KiB + 1 (a second fragment of one byte)', mixed(65_537, 4)],
    ['300 KB mixed', mixed(300_000, 5)],
    ['100 KB of noise', noise(100_000, 6)],
    ['1 MB of zeros', new Uint8Array(1_000_000)],
    ['a 7-byte pattern repeated', Uint8Array.from({ length: 50_000 }, (_, i) => 'sluice!'.charCodeAt(i % 7))],
    ['a columnar record of Series', seriesRecord(400)],
  ];

  it('writes blocks that native snappy, snappyjs and our reader read back byte for byte', async () => {
    for (const [label, bytes] of inputs) {
      const block = snappyCompress(bytes);
      expect(block.byteLength, label).toBeLessThanOrEqual(maxCompressedLength(bytes.byteLength));
      expect(same(uncompress(block), bytes), `${label}: our reader`).toBe(true);
      expect(same(snappyjs.uncompress(block), bytes), `${label}: snappyjs`).toBe(true);
      expect(same((await nativeUncompress(Buffer.from(block), { asBuffer: true })) as Buffer, bytes), `${label}: native snappy`).toBe(true);
    }
  });

  it('finds the matches snappyjs finds: blocks within 1 % of its size, and repetition compressed away', () => {
    for (const [label, bytes] of inputs) {
      if (bytes.byteLength < 1000) continue;
      expect(snappyCompress(bytes).byteLength, label).toBeLessThanOrEqual(Math.ceil(snappyjs.compress(bytes).byteLength * 1.01));
    }
    // 1 MB of zeros is copies of 64 bytes (3 bytes each) after a literal: ~47 KB.
    expect(snappyCompress(new Uint8Array(1_000_000)).byteLength).toBeLessThan(50_000);
    expect(snappyCompress(seriesRecord(400)).byteLength).toBeLessThan(seriesRecord(400).byteLength / 4);
  });

  it('reads only the view it is given: an input inside a larger buffer, at an odd offset', () => {
    for (const [label, bytes] of inputs) {
      const backing = noise(bytes.byteLength + 9, 7);
      backing.set(bytes, 5);
      const view = backing.subarray(5, 5 + bytes.byteLength);
      expect(same(uncompress(snappyCompress(view)), bytes), label).toBe(true);
    }
  });

  it('compresses into a caller buffer of the worst-case length and says how much it wrote', () => {
    const bytes = mixed(70_000, 8);
    const output = new Uint8Array(maxCompressedLength(bytes.byteLength)).fill(0xee);
    const written = snappyCompressInto(bytes, output);
    expect(same(uncompress(output.subarray(0, written)), bytes)).toBe(true);
    expect(output[written]).toBe(0xee);
  });

  it('round-trips random inputs of every small length', () => {
    for (let n = 0; n < 300; n++) {
      const bytes = n % 2 === 0 ? mixed(n, n + 11) : noise(n, n + 11).map((b) => b & 3);
      expect(same(uncompress(snappyCompress(bytes)), bytes), `${n} B`).toBe(true);
    }
  });
});
