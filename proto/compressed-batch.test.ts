import { describe, expect, it } from 'vitest';
import { BatchCompressor, ColumnarBatchBuilder, compressBatch, decodeLogRecord, LogRecordDecoder, TEXT_KIND_STRING, type ColumnarBatch } from './index.js';

/** A batch of `messages` messages of `readings` readings each (every third of them a text reading), values from `seed`. */
function batch(partition: number, messages: number, readings: number, seed: number): ColumnarBatchBuilder {
  const b = new ColumnarBatchBuilder(partition, 1_700_000_000_000 + seed);
  for (let m = 0; m < messages; m++) {
    b.beginMessage(b.intern(`dev-${seed}-${m}`), m % 2 === 0 ? 0 : b.intern('site=oslo'), m + 1);
    for (let r = 0; r < readings; r++) {
      if (r % 3 === 2) b.addText(b.intern('state'), b.intern(`k=${r}`), 1_700_000_000_000 + r, TEXT_KIND_STRING, b.intern(`s-${seed}-${r}`));
      else b.addNumeric(b.intern(`metric-${r % 3}`), 0, 1_700_000_000_000 + r, seed * 1000 + m + r / 8);
    }
  }
  return b;
}

function record(partition: number, messages: number, readings: number, seed: number): Uint8Array {
  return compressBatch(batch(partition, messages, readings, seed).encode());
}

/** Every column as plain values, so batches over different buffers compare. */
function plain(b: ColumnarBatch): unknown {
  return Object.fromEntries(Object.entries(b).map(([k, v]) => [k, ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number | bigint>) : v]));
}

describe('LogRecordDecoder', () => {
  it('decodes each record as decodeLogRecord does, larger and smaller ones in turn over its one buffer', () => {
    const decoder = new LogRecordDecoder();
    // 300 × 100 readings outgrow the first 64 KiB buffer; the small ones after it reuse the grown one.
    const records = [record(1, 2, 3, 1), record(2, 300, 100, 2), record(3, 1, 1, 3), record(4, 40, 10, 4), record(5, 300, 100, 5)];
    for (const r of records) expect(plain(decoder.decode(r))).toEqual(plain(decodeLogRecord(r)));
  });

  it('refuses a block that is not snappy, as decodeLogRecord does', () => {
    const bad = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect(() => new LogRecordDecoder().decode(bad)).toThrow(/Invalid Snappy bitstream/);
    expect(() => decodeLogRecord(bad)).toThrow();
  });
});

describe('BatchCompressor', () => {
  it('writes the bytes compressBatch(encode()) writes, smaller batches after larger ones over its reused buffers', () => {
    const compressor = new BatchCompressor();
    const batches = [batch(1, 2, 3, 1), batch(2, 300, 100, 2), batch(3, 1, 1, 3), batch(4, 40, 10, 4), batch(5, 300, 100, 5), batch(6, 3, 7, 6)];
    for (const b of batches) {
      compressor.add(b.build());
      const [record, ...more] = compressor.take();
      expect(more).toEqual([]);
      expect(Buffer.from(record!).equals(Buffer.from(compressBatch(b.encode())))).toBe(true);
      expect(plain(decodeLogRecord(record!))).toEqual(plain(b.build()));
    }
  });

  it('gives the records added between takes as views of one buffer of their size, each the bytes compressBatch makes', () => {
    const compressor = new BatchCompressor();
    // The large one outgrows the output buffer midway, so records written before the growth must survive it.
    const sets = [[batch(1, 2, 3, 1), batch(2, 1, 1, 2), batch(3, 300, 100, 3), batch(4, 5, 5, 4)], [batch(5, 1, 2, 5)], [batch(6, 40, 10, 6), batch(7, 3, 7, 7)]];
    for (const set of sets) {
      const expected = set.map((b) => compressBatch(b.encode()));
      for (const b of set) {
        compressor.add(b.build());
        b.reset(0, 0); // the builder may be reused at once
      }
      const records = compressor.take();
      expect(records.map((r) => Buffer.from(r).toString('hex'))).toEqual(expected.map((r) => Buffer.from(r).toString('hex')));
      expect(new Set(records.map((r) => r.buffer)).size).toBe(1);
      expect(records[0]!.buffer.byteLength).toBe(expected.reduce((sum, r) => sum + r.length, 0));
    }
    expect(compressor.take()).toEqual([]);
    compressor.add(batch(8, 2, 2, 8).build());
    compressor.clear();
    compressor.add(batch(9, 2, 2, 9).build());
    expect(compressor.take().map((r) => Buffer.from(r).toString('hex'))).toEqual([Buffer.from(compressBatch(batch(9, 2, 2, 9).encode())).toString('hex')]);
  });
});
