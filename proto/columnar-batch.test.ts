import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ColumnarBatchBuilder, decodeColumnarBatch, encodeColumnarBatch, msgFlagsOffset, MSG_FLAG_DROPPED, MSG_FLAG_STATUS, TEXT_KIND_BOOL, TEXT_KIND_STRING, type ColumnarBatch } from './index.js';

function sample(): ColumnarBatchBuilder {
  const b = new ColumnarBatchBuilder(7, 1_700_000_000_123);
  const dev = b.intern('dev-1');
  const tags = b.intern('site=oslo');
  b.beginMessage(dev, tags, 41);
  b.addNumeric(b.intern('temp'), 0, 1_700_000_000_000, 21.5);
  b.addNumeric(b.intern('temp'), 0, 1_700_000_000_001, -3);
  b.addText(b.intern('state'), b.intern('k=v'), 1_700_000_000_002, TEXT_KIND_STRING, b.intern('ok'));
  b.beginMessage(b.intern('dev-2'), 0, 2 ** 53 - 1);
  b.addNumeric(b.intern('hum'), 0, 5, 0.25);
  return b;
}

describe('columnar batch', () => {
  it('round-trips every column', () => {
    const decoded = decodeColumnarBatch(sample().encode());
    const s = decoded.strings;
    expect(decoded.partition).toBe(7);
    expect(decoded.receivedAtMs).toBe(1_700_000_000_123);
    expect([...decoded.msgDevice].map((i) => s[i])).toEqual(['dev-1', 'dev-2']);
    expect([...decoded.msgDeviceTags].map((i) => s[i])).toEqual(['site=oslo', '']);
    expect([...decoded.msgSeq]).toEqual([41, 2 ** 53 - 1]);
    expect([...decoded.numEnd]).toEqual([2, 3]);
    expect([...decoded.textEnd]).toEqual([1, 1]);
    expect([...decoded.metric].map((i) => s[i])).toEqual(['temp', 'temp', 'hum']);
    expect([...decoded.time]).toEqual([1_700_000_000_000, 1_700_000_000_001, 5]);
    expect([...decoded.value]).toEqual([21.5, -3, 0.25]);
    expect(s[decoded.textValue[0]!]).toBe('ok');
    expect(s[decoded.textTags[0]!]).toBe('k=v');
    expect([...decoded.msgFlags]).toEqual([0, 0]);
  });

  it('lets a flag be set in place at msgFlagsOffset', () => {
    const bytes = sample().encode();
    bytes[msgFlagsOffset(bytes) + 1] = MSG_FLAG_DROPPED;
    expect([...decodeColumnarBatch(bytes).msgFlags]).toEqual([0, MSG_FLAG_DROPPED]);
  });

  it('flags a message in the builder, and forgets the flag of an aborted one', () => {
    const b = sample();
    b.beginMessage(b.intern('plant:edge1'), 0, 0);
    b.addText(b.intern('NBIRTH'), b.intern('edge=edge1,group=plant,kind=node'), 7, TEXT_KIND_BOOL, 1);
    b.flagMessage(MSG_FLAG_STATUS);
    b.beginMessage(b.intern('dev-3'), 0, 1);
    b.flagMessage(MSG_FLAG_STATUS);
    b.abortMessage();
    b.beginMessage(b.intern('dev-4'), 0, 2);
    b.addNumeric(b.intern('x'), 0, 1, 1);
    const decoded = decodeColumnarBatch(b.encode());
    expect([...decoded.msgDevice].map((i) => decoded.strings[i])).toEqual(['dev-1', 'dev-2', 'plant:edge1', 'dev-4']);
    expect([...decoded.msgFlags]).toEqual([0, 0, MSG_FLAG_STATUS, 0]);
    b.reset(7, 1);
    b.beginMessage(b.intern('dev-5'), 0, 1);
    expect([...b.build().msgFlags]).toEqual([0]);
  });

  it('drops an aborted message and its readings', () => {
    const b = sample();
    b.beginMessage(b.intern('dev-3'), 0, 1);
    b.addNumeric(b.intern('x'), 0, 1, 1);
    b.abortMessage();
    const decoded = decodeColumnarBatch(b.encode());
    expect(decoded.msgDevice.length).toBe(2);
    expect(decoded.value.length).toBe(3);
  });

  it('decodes from a misaligned buffer and refuses a truncated one', () => {
    const bytes = sample().encode();
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect([...decodeColumnarBatch(shifted.subarray(1)).value]).toEqual([21.5, -3, 0.25]);
    expect(() => decodeColumnarBatch(bytes.subarray(0, bytes.length - 9))).toThrow(/truncated/);
    expect(() => decodeColumnarBatch(new Uint8Array(48))).toThrow(/magic/);
  });
});

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * A version 1 batch, as main's encoder (38a1136) wrote it: two messages (the second
 * flagged dropped), a double, an int reading kept as a double (2^53), a bool and a string.
 * The calls that built it are v1Builder's.
 */
const V1_BATCH =
  'U0xDQgEAAAAFAAAAAAAAAABAn1b+vHhCCgAAAAIAAAADAAAAAgAAAAAAAAAAAAAABQAAAA4AAAASAAAAFwAAAB0AAAAhAAAAJgAAACsAAAAtAAAAZGV2LTFzaXRlPW9zbG90ZW1wY291bnRsaW5lPWFkb29yZGV2LTJzdGF0ZW9rAAAAAAAAAAAAAAAAgERAAAAAAAAAHEAAAIBW/rx4QgAQgFb+vHhCADCAVv68eEIAAAAAAIA1QAAAAAAAAEBDAAAAAAAACMAAIIBW/rx4QgBAgFb+vHhCAQAAAAcAAAACAAAAAAAAAAIAAAADAAAAAQAAAAIAAAADAAAABAAAAAMAAAAAAAAAAAAAAAUAAAAAAAAAAAAAAAYAAAAIAAAAAAAAAAAAAAABAAAACQAAAAABAAAAAAAAAQIAAAAAAAA=';

function v1Builder(): ColumnarBatchBuilder {
  const b = new ColumnarBatchBuilder(5, 1_700_000_000_500);
  b.beginMessage(b.intern('dev-1'), b.intern('site=oslo'), 41);
  b.addNumeric(b.intern('temp'), 0, 1_700_000_000_000, 21.5);
  b.addNumeric(b.intern('count'), b.intern('line=a'), 1_700_000_000_001, 9007199254740992);
  b.addText(b.intern('door'), 0, 1_700_000_000_002, TEXT_KIND_BOOL, 1);
  b.beginMessage(b.intern('dev-2'), 0, 7);
  b.addNumeric(b.intern('temp'), 0, 1_700_000_000_003, -3);
  b.addText(b.intern('state'), 0, 1_700_000_000_004, TEXT_KIND_STRING, b.intern('ok'));
  return b;
}

describe('columnar batch: numeric runs', () => {
  it('encodes a run exactly as the same readings added one by one, across growth and messages', () => {
    const one = new ColumnarBatchBuilder(3, 1_700_000_000_000);
    const run = new ColumnarBatchBuilder(3, 1_700_000_000_000);
    for (const b of [one, run]) b.intern('dev');
    // 5 000 readings: past the builder's initial column capacity, so both grow.
    const series = [7, 5_000, 1, 0].map((n, s) => ({
      metric: `m${s}`,
      tags: s === 1 ? 'site=a' : '',
      start: 1_700_000_000_000 + s,
      deltas: Array.from({ length: n }, (_, k) => k * 100 - 50),
      values: Array.from({ length: n }, (_, k) => Math.sin(k + s) * 1e3),
    }));
    for (const [i, s] of series.entries()) {
      for (const b of [one, run]) {
        b.beginMessage(b.intern('dev'), 0, i + 1);
        b.addNumeric(b.intern('before'), 0, 1, 0.5);
      }
      const [m, t] = [one.intern(s.metric), one.intern(s.tags)];
      for (let k = 0; k < s.values.length; k++) one.addNumeric(m, t, s.start + s.deltas[k]!, s.values[k]!);
      run.addNumericRun(run.intern(s.metric), run.intern(s.tags), s.start, s.deltas, s.values);
    }
    expect(Buffer.from(run.encode()).equals(Buffer.from(one.encode()))).toBe(true);
    expect(decodeColumnarBatch(run.encode()).value.length).toBe(4 + 7 + 5_000 + 1);
  });
});

describe('columnar batch: int readings (version 2)', () => {
  it('keeps int64 values exactly, the double beside them, and the index of each int reading', () => {
    const b = new ColumnarBatchBuilder(1, 0);
    b.beginMessage(b.intern('dev'), 0, 1);
    // Metric names alternate, so runs would not pay and the batch is version 2.
    const names = [b.intern('n'), b.intern('k')];
    let r = 0;
    const m = (): number => names[r++ % 2]!;
    b.addNumeric(m(), 0, 1, 0.5);
    for (const v of [9007199254740993n, INT64_MIN, INT64_MAX, -9007199254740993n]) b.addInt(m(), 0, 2, v);
    for (const v of [-42, 0, 2 ** 53, -(2 ** 53), 2 ** 32, -(2 ** 32) - 1]) b.addInt(m(), 0, 3, v);
    b.addNumeric(m(), 0, 4, -1.25);
    const bytes = b.encode();
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint16(4, true)).toBe(2);
    const decoded = decodeColumnarBatch(bytes);
    expect([...decoded.intValue]).toEqual([9007199254740993n, INT64_MIN, INT64_MAX, -9007199254740993n, -42n, 0n, 2n ** 53n, -(2n ** 53n), 2n ** 32n, -(2n ** 32n) - 1n]);
    expect([...decoded.intAt]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect([...decoded.value]).toEqual([0.5, 2 ** 53, -(2 ** 63), 2 ** 63, -(2 ** 53), -42, 0, 2 ** 53, -(2 ** 53), 2 ** 32, -(2 ** 32) - 1, -1.25]);
    // The builder's own view (what the inline decode path hands on) says the same.
    expect([...b.build().intValue]).toEqual([...decoded.intValue]);
  });

  it('drops the int entries of an aborted message, keeping the ones before it', () => {
    const b = new ColumnarBatchBuilder(1, 0);
    b.beginMessage(b.intern('dev'), 0, 1);
    b.addInt(b.intern('n'), 0, 1, 7);
    b.beginMessage(b.intern('dev'), 0, 2);
    b.addNumeric(b.intern('n'), 0, 1, 1);
    b.addInt(b.intern('n'), 0, 1, 8n);
    b.abortMessage();
    b.beginMessage(b.intern('dev'), 0, 3);
    b.addInt(b.intern('n'), 0, 1, -9n);
    const decoded = decodeColumnarBatch(b.encode());
    expect([...decoded.intAt]).toEqual([0, 1]);
    expect([...decoded.intValue]).toEqual([7n, -9n]);
  });

  it('writes a batch without int readings as version 1, byte for byte what the version before wrote', () => {
    const b = v1Builder();
    const bytes = b.encode();
    bytes[msgFlagsOffset(bytes) + 1] = MSG_FLAG_DROPPED;
    expect(Buffer.from(bytes).toString('base64')).toBe(V1_BATCH);
  });

  it('reads a version 1 batch: every column, and no int readings', () => {
    const decoded = decodeColumnarBatch(new Uint8Array(Buffer.from(V1_BATCH, 'base64')));
    const s = decoded.strings;
    expect(decoded.partition).toBe(5);
    expect([...decoded.msgDevice].map((i) => s[i])).toEqual(['dev-1', 'dev-2']);
    expect([...decoded.msgFlags]).toEqual([0, MSG_FLAG_DROPPED]);
    expect([...decoded.metric].map((i) => s[i])).toEqual(['temp', 'count', 'temp']);
    expect([...decoded.tags].map((i) => s[i])).toEqual(['', 'line=a', '']);
    expect([...decoded.value]).toEqual([21.5, 9007199254740992, -3]);
    expect([...decoded.textKind]).toEqual([TEXT_KIND_BOOL, TEXT_KIND_STRING]);
    expect(decoded.intAt.length).toBe(0);
    expect(decoded.intValue.length).toBe(0);
  });

  it('refuses a version it does not know, and a version 2 batch cut short in its int columns', () => {
    const bytes = new Uint8Array(Buffer.from(V1_BATCH, 'base64'));
    new DataView(bytes.buffer).setUint16(4, 4, true);
    expect(() => decodeColumnarBatch(bytes)).toThrow(/version 4 is not supported \(this version reads 1 to 3\)/);
    const b = new ColumnarBatchBuilder(1, 0);
    b.beginMessage(b.intern('dev'), 0, 1);
    b.addInt(b.intern('n'), 0, 1, 1n);
    const v2 = b.encode();
    expect(() => decodeColumnarBatch(v2.subarray(0, v2.length - 8))).toThrow(/truncated/);
  });
});

/**
 * 40 messages: columns both shorter and longer than the encoder's loop-or-memcpy threshold,
 * int readings (one past 2^53), bool and string readings, a flagged message.
 */
function mixed(): ColumnarBatchBuilder {
  const b = new ColumnarBatchBuilder(3, 1_700_000_000_500);
  for (let m = 0; m < 40; m++) {
    b.beginMessage(b.intern(`dev-${m % 7}`), m % 3 === 0 ? 0 : b.intern('site=oslo'), m * 3 + 1);
    for (let r = 0; r < (m % 5) * 3; r++) b.addNumeric(b.intern(`m${r % 4}`), r % 2 === 0 ? 0 : b.intern('k=v'), 1_700_000_000_000 + m * 10 + r, m * 0.5 - r);
    if (m % 4 === 0) b.addInt(b.intern('count'), 0, 1_700_000_000_000 + m, m % 8 === 0 ? 2n ** 60n + BigInt(m) : -m);
    if (m % 6 === 0) b.addText(b.intern('state'), 0, 1_700_000_000_000 + m, m % 12 === 0 ? TEXT_KIND_BOOL : TEXT_KIND_STRING, m % 12 === 0 ? 1 : b.intern(`s${m}`));
    if (m === 9) b.flagMessage(MSG_FLAG_STATUS);
  }
  return b;
}

describe('columnar batch encoding', () => {
  // The hash of what the encoder before the typed-view copies wrote for mixed(): the format did not move.
  const MIXED_SHA256 = 'cb3511d69f8a7c5790a47e666256fd19c876a5363e002bd87bab9e024341a67c';

  it('writes the bytes it always wrote, short and long columns alike', () => {
    const bytes = Buffer.from(encodeColumnarBatch(mixed().build()));
    expect(bytes.length).toBe(7480);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(MIXED_SHA256);
  });

  it('writes the same bytes into a buffer that is not 8-byte aligned', () => {
    const b = mixed().build();
    const aligned = Buffer.from(encodeColumnarBatch(b));
    const slab = Buffer.alloc(aligned.length + 3);
    const misaligned = encodeColumnarBatch(b, (n) => slab.subarray(3, 3 + n));
    expect(misaligned.byteOffset % 8).not.toBe(0);
    expect(Buffer.from(misaligned).equals(aligned)).toBe(true);
  });
});

/** Every column of a batch as plain arrays, with string indices resolved (two encodings intern alike, but compare meaning). */
function columns(b: ColumnarBatch): Record<string, unknown> {
  const s = b.strings;
  const str = (c: Uint32Array): string[] => [...c].map((i) => s[i]!);
  return {
    partition: b.partition, receivedAtMs: b.receivedAtMs,
    msgDevice: str(b.msgDevice), msgDeviceTags: str(b.msgDeviceTags), msgSeq: [...b.msgSeq], msgFlags: [...b.msgFlags],
    numEnd: [...b.numEnd], textEnd: [...b.textEnd],
    metric: str(b.metric), tags: str(b.tags), time: [...b.time], value: [...b.value],
    textMetric: str(b.textMetric), textTags: str(b.textTags), textTime: [...b.textTime], textKind: [...b.textKind], textValue: [...b.textValue],
    intAt: [...b.intAt], intValue: [...b.intValue],
  };
}

/** Devices sending Series (runs of one metric and tag set), with ints, text readings and a flagged message among them. */
function seriesBatch(devices: number, perSeries: number): ColumnarBatchBuilder {
  const b = new ColumnarBatchBuilder(9, 1_700_000_000_900);
  for (let d = 0; d < devices; d++) {
    b.beginMessage(b.intern(`dev-${d}`), d % 2 === 0 ? 0 : b.intern('site=oslo'), d + 1);
    for (const [k, metric] of ['temp', 'hum', 'volt'].entries()) {
      const deltas = Array.from({ length: perSeries }, (_, i) => i * (100 + k) - (d % 3));
      const values = Array.from({ length: perSeries }, (_, i) => d + k * 0.25 + i);
      b.addNumericRun(b.intern(metric), k === 2 ? b.intern('phase=a') : 0, 1_700_000_000_000 + d, deltas, values);
    }
    if (d % 3 === 0) b.addInt(b.intern('count'), 0, 1_700_000_000_000 + d, 2n ** 60n + BigInt(d));
    if (d % 4 === 0) b.addText(b.intern('state'), 0, 1_700_000_000_000 + d, TEXT_KIND_STRING, b.intern(`s${d}`));
    if (d === 5) b.flagMessage(MSG_FLAG_STATUS);
  }
  return b;
}

const versionOf = (bytes: Uint8Array): number => new DataView(bytes.buffer, bytes.byteOffset).getUint16(4, true);
const flagsOf = (bytes: Uint8Array): number => new DataView(bytes.buffer, bytes.byteOffset).getUint32(44, true);
/** docs/batch-format.md: version 3's flag for time as run time + int32 offsets. */
const TIME_AS_DELTAS = 1;

describe('columnar batch: numeric runs (version 3)', () => {
  it('writes readings that share a metric and tags as runs, smaller, and reads back every column the builder holds', () => {
    for (const [devices, perSeries] of [[1, 2], [7, 20], [40, 100]] as const) {
      const b = seriesBatch(devices, perSeries);
      const bytes = b.encode();
      expect(versionOf(bytes)).toBe(3);
      expect(flagsOf(bytes)).toBe(TIME_AS_DELTAS);
      expect(columns(decodeColumnarBatch(bytes))).toEqual(columns(b.build()));
    }
    // Value and time delta are 12 bytes a reading; version 2's time, metric and tags made it 24 and more.
    const large = seriesBatch(40, 100);
    expect(large.encode().length / large.numericCount).toBeLessThan(13);
  });

  it('keeps time per reading where an offset from the run would not be exact, and still writes runs', () => {
    for (const odd of [0.5, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 2]) {
      const b = new ColumnarBatchBuilder(2, 0);
      b.beginMessage(b.intern('dev'), 0, 1);
      const m = b.intern('temp');
      for (let k = 0; k < 10; k++) b.addNumeric(m, 0, k === 7 ? 1_700_000_000_000 + odd : 1_700_000_000_000 + k, k);
      const bytes = b.encode();
      expect(versionOf(bytes), `time + ${odd}`).toBe(3);
      expect(flagsOf(bytes), `time + ${odd}`).toBe(0);
      expect(columns(decodeColumnarBatch(bytes)), `time + ${odd}`).toEqual(columns(b.build()));
    }
  });

  it('refuses a version 3 flag it does not know', () => {
    const bytes = seriesBatch(2, 5).encode();
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(44, TIME_AS_DELTAS | 2, true);
    expect(() => decodeColumnarBatch(bytes)).toThrow(/flags 3 are not supported/);
  });

  it('keeps a batch whose readings change metric at every reading in version 2 or 1', () => {
    expect(versionOf(mixed().encode())).toBe(2);
    expect(versionOf(v1Builder().encode())).toBe(1);
  });

  it('lets a flag be set in place, and writes the same bytes into a misaligned buffer', () => {
    const built = seriesBatch(7, 20).build();
    const bytes = encodeColumnarBatch(built);
    const slab = Buffer.alloc(bytes.length + 5);
    const misaligned = encodeColumnarBatch(built, (n) => slab.subarray(5, 5 + n));
    expect(Buffer.from(misaligned).equals(Buffer.from(bytes))).toBe(true);
    bytes[msgFlagsOffset(bytes) + 2] = MSG_FLAG_DROPPED;
    expect([...decodeColumnarBatch(bytes).msgFlags]).toEqual([0, 0, MSG_FLAG_DROPPED, 0, 0, MSG_FLAG_STATUS, 0]);
  });

  it('expands runs into the arrays the caller gives, and refuses runs that do not cover the readings', () => {
    const bytes = seriesBatch(3, 20).encode();
    const u32 = new Uint32Array(1000).fill(0xdead);
    const f64 = new Float64Array(500).fill(-1);
    const decoded = decodeColumnarBatch(bytes, { u32: (n) => (n <= u32.length ? u32 : new Uint32Array(n)), f64: (n) => (n <= f64.length ? f64 : new Float64Array(n)) });
    expect(decoded.metric.buffer).toBe(u32.buffer);
    expect(decoded.time.buffer).toBe(f64.buffer);
    expect(columns(decoded)).toEqual(columns(decodeColumnarBatch(bytes)));
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const nRuns = view.getUint32(40, true);
    view.setUint32(40, nRuns - 1, true);
    expect(() => decodeColumnarBatch(bytes)).toThrow(/columnar batch (corrupt|truncated)/);
    view.setUint32(40, nRuns, true);
    expect(() => decodeColumnarBatch(bytes.subarray(0, 60))).toThrow(/truncated/);
  });
});
