import { ColumnarBatchBuilder, decodeColumnarBatch, type ColumnarBatch } from '../../../proto/index.js';

/** Test helper: one device message. A reading is [metric, time, value, readingTags?]. */
export interface TestMessage {
  device: string;
  deviceTags?: string;
  seq?: number;
  readings: [metric: string, time: number, value: number, tags?: string][];
  dropped?: boolean;
}

/** Builds a ColumnarBatch the way the decode worker does, and (by default) sends it through encode/decode. */
export function makeBatch(messages: TestMessage[], options: { encode?: boolean; partition?: number } = {}): ColumnarBatch {
  const b = new ColumnarBatchBuilder(options.partition ?? 0, 1_700_000_000_000);
  for (const m of messages) {
    b.beginMessage(b.intern(m.device), b.intern(m.deviceTags ?? ''), m.seq ?? 0);
    for (const [metric, time, value, tags] of m.readings) b.addNumeric(b.intern(metric), b.intern(tags ?? ''), time, value);
  }
  const batch = options.encode === false ? b.build() : decodeColumnarBatch(b.encode());
  messages.forEach((m, i) => {
    if (m.dropped) batch.msgFlags[i] = 1;
  });
  return batch;
}

/** A small deterministic PRNG (mulberry32), so random streams replay identically. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
