import { compress, uncompress } from 'snappy';
import snappyjs from 'snappyjs';
import { describe, expect, it } from 'vitest';
import { SnappyBlockError } from '../core/index.js';
import { ColumnarBatchBuilder } from './columnar-batch-builder.js';
import { ASYNC_FROM_BYTES, compressBlock, compressBlocks, uncompressBlock, uncompressBlocks, uncompressedLength } from './snappy-block.js';

/** An encoded ColumnarBatch of `devices` × 3 metrics × 4 readings: what log records hold. */
function batch(devices: number): Uint8Array {
  const b = new ColumnarBatchBuilder(3, 1_700_000_000_000);
  for (let d = 0; d < devices; d++) {
    b.beginMessage(b.intern(`dev-${d}`), 0, d + 1);
    for (const metric of ['temp', 'hum', 'volt']) {
      const m = b.intern(metric);
      for (let r = 0; r < 4; r++) b.addNumeric(m, 0, 1_700_000_000_000 + r * 1000, d * 0.5 + r);
    }
  }
  return b.encode();
}

/** Bytes that compress poorly (a xorshift stream), with a repeated run so copies occur too. */
function noisy(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = i % 1000 < 300 ? 42 : x & 0xff;
  }
  return out;
}

/** Byte equality (vitest's deep equality takes seconds on a MiB). */
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);

const SIZES: [string, Uint8Array][] = [
  ['an empty block', new Uint8Array(0)],
  ['a ~300 B batch', batch(2)],
  ['a batch just under the async threshold', batch(60)],
  ['a ~64 KB batch', batch(400)],
  ['a ~1 MiB batch', batch(6500)],
  ['1 MiB of poorly compressible bytes', noisy(1 << 20)],
];

describe('snappy blocks: native snappy (async) and snappyjs write and read the same format', () => {
  it('has payloads on both sides of the async threshold', () => {
    expect(SIZES.some(([, b]) => b.byteLength < ASYNC_FROM_BYTES && b.byteLength > 0)).toBe(true);
    expect(SIZES.some(([, b]) => b.byteLength >= ASYNC_FROM_BYTES)).toBe(true);
  });

  for (const [name, bytes] of SIZES) {
    it(`${name} (${bytes.byteLength} B): native async output is read by snappyjs, and snappyjs output by native async`, async () => {
      const byNative = await compress(bytes);
      expect(same(snappyjs.uncompress(new Uint8Array(byNative)), bytes)).toBe(true);
      const byJs = snappyjs.compress(bytes);
      expect(same((await uncompress(byJs, { asBuffer: true })) as Buffer, bytes)).toBe(true);
    });

    it(`${name}: compressBlock / uncompressBlock round-trip, and each side reads the other's blocks`, async () => {
      const block = await compressBlock(bytes);
      expect(uncompressedLength(block)).toBe(bytes.byteLength);
      expect(same(await uncompressBlock(block, bytes.byteLength), bytes)).toBe(true);
      // What snappyjs wrote before this module existed (existing logs and checkpoints) still reads, and the reverse.
      expect(same(await uncompressBlock(snappyjs.compress(bytes), bytes.byteLength), bytes)).toBe(true);
      expect(same(snappyjs.uncompress(new Uint8Array(block)), bytes)).toBe(true);
    });
  }

  it('compresses a view into a larger buffer (a checkpoint chunk) without reading past it', async () => {
    const whole = noisy(3 * ASYNC_FROM_BYTES);
    const view = whole.subarray(100, 100 + 2 * ASYNC_FROM_BYTES);
    expect(same(snappyjs.uncompress(new Uint8Array(await compressBlock(view))), view)).toBe(true);
  });

  it('keeps order in the batched calls', async () => {
    const blocks = [batch(400), batch(2), noisy(ASYNC_FROM_BYTES * 2), batch(1)];
    const compressed = await compressBlocks(blocks);
    const back = await uncompressBlocks(compressed, 1 << 20);
    expect(back.map((b, i) => same(b, blocks[i]!))).toEqual(blocks.map(() => true));
  });
});

describe('uncompressBlock refuses bad blocks with SLUICE_SNAPPY_CORRUPT', () => {
  it('refuses a block that claims more than maxLength, before uncompressing it', async () => {
    const block = snappyjs.compress(batch(400));
    await expect(uncompressBlock(block, 1000)).rejects.toMatchObject({ code: 'SLUICE_SNAPPY_CORRUPT', message: expect.stringMatching(/claims \d+ bytes/) });
    // A claim of 4 GiB in a 6-byte block: refused on the header alone.
    await expect(uncompressBlock(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0]), 1 << 20)).rejects.toBeInstanceOf(SnappyBlockError);
  });

  it('refuses a truncated block on both paths (native and snappyjs)', async () => {
    for (const bytes of [batch(2), batch(400)]) {
      const block = snappyjs.compress(bytes);
      await expect(uncompressBlock(block.subarray(0, Math.floor(block.byteLength / 2)), 1 << 20)).rejects.toBeInstanceOf(SnappyBlockError);
    }
  });

  it('refuses a block with no length header', async () => {
    await expect(uncompressBlock(new Uint8Array(0), 10)).rejects.toBeInstanceOf(SnappyBlockError);
    await expect(uncompressBlock(Uint8Array.from([0x80, 0x80]), 10)).rejects.toBeInstanceOf(SnappyBlockError);
  });
});
