import { describe, expect, it } from 'vitest';
import { ColumnarBatchBuilder, decodeColumnarBatch, parseTagSet, ReadingBatch, TEXT_KIND_BOOL, TEXT_KIND_STRING, type IReadingBatch } from '../../proto/index.js';
import { decodeLimitsSchema, type PayloadLimits } from './config.js';
import { decodePayload, type PayloadKind } from './payload-decoder.js';
import { REASON_CODE } from './reasons.js';
import { wireInt64 } from '../../proto/testing/wire-int64.js';

const NOW = 1_700_000_000_000;
const LIMITS = decodeLimitsSchema.parse({ threads: 1 });

/** Decodes one payload into a fresh builder; returns the outcome and the encoded-then-decoded batch. */
function run(payload: IReadingBatch | Uint8Array, kind: PayloadKind = 'protobuf', limits: PayloadLimits = LIMITS) {
  const builder = new ColumnarBatchBuilder(3, NOW);
  const ctx = { receivedAtMs: NOW, deviceIdx: builder.intern('dev-1'), deviceTagsIdx: builder.intern('site=oslo'), limits };
  const bytes = payload instanceof Uint8Array ? payload : ReadingBatch.encode(payload).finish();
  const out = decodePayload(bytes, kind, ctx, builder);
  return { out, batch: decodeColumnarBatch(builder.encode()) };
}

type Batch = ReturnType<typeof run>['batch'];
const numeric = (b: Batch) =>
  [...b.metric].map((m, i) => ({ metric: b.strings[m], tags: b.strings[b.tags[i]!], time: b.time[i], value: b.value[i] }));
const text = (b: Batch) =>
  [...b.textMetric].map((m, i) => ({ metric: b.strings[m], kind: b.textKind[i], time: b.textTime[i], value: b.textValue[i] }));

/** Expects a refusal with `reason`, and nothing written. */
function refused(payload: IReadingBatch | Uint8Array, reason: number, detail?: RegExp, limits?: PayloadLimits) {
  const { out, batch } = run(payload, 'protobuf', limits);
  expect(out.reason).toBe(reason);
  if (detail) expect(out.detail).toMatch(detail);
  expect(out.readings).toBe(0);
  expect(batch.msgDevice.length).toBe(0);
  expect(batch.metric.length + batch.textMetric.length).toBe(0);
}

const reading = (over: Record<string, unknown> = {}) => ({ metric: 'temp', timeUnixMs: NOW - 1000, doubleValue: 21.5, ...over });

describe('decodePayload: accepted protobuf payloads', () => {
  it('writes rows with double and int values as numeric readings', () => {
    const { out, batch } = run({ seq: 7, readings: [reading(), reading({ metric: 'count', doubleValue: undefined, intValue: -42 })] });
    expect(out).toEqual({ reason: 0, readings: 2, metrics: ['temp', 'count'], series: ['temp', 'count'] });
    expect(numeric(batch)).toEqual([
      { metric: 'temp', tags: '', time: NOW - 1000, value: 21.5 },
      { metric: 'count', tags: '', time: NOW - 1000, value: -42 },
    ]);
    expect([...batch.msgSeq]).toEqual([7]);
    expect(batch.strings[batch.msgDevice[0]!]).toBe('dev-1');
    expect(batch.strings[batch.msgDeviceTags[0]!]).toBe('site=oslo');
  });

  it('writes a series as start + delta, value by value', () => {
    const { out, batch } = run({ seq: 1, series: [{ metric: 'vib', startUnixMs: NOW - 500, timeDeltaMs: [0, 10, -5], values: [1, 2.5, -3] }] });
    expect(out).toEqual({ reason: 0, readings: 3, metrics: ['vib'], series: ['vib'] });
    expect(numeric(batch).map((r) => [r.time, r.value])).toEqual([[NOW - 500, 1], [NOW - 490, 2.5], [NOW - 505, -3]]);
  });

  it('accepts rows and series mixed in one message, with distinct metric names', () => {
    const { out, batch } = run({
      readings: [reading(), reading({ metric: 'hum' }), reading()],
      series: [{ metric: 'temp', startUnixMs: NOW, timeDeltaMs: [1], values: [5] }, { metric: 'pres', startUnixMs: NOW, timeDeltaMs: [1, 2], values: [6, 7] }],
    });
    expect(out).toEqual({ reason: 0, readings: 6, metrics: ['temp', 'hum', 'pres'], series: ['temp', 'hum', 'pres'] });
    expect([...batch.numEnd]).toEqual([6]);
  });

  it('uses the receive time for time 0 and series start 0', () => {
    const { batch } = run({ readings: [reading({ timeUnixMs: 0 })], series: [{ metric: 'x', timeDeltaMs: [0, 3], values: [1, 2] }] });
    expect([...batch.time]).toEqual([NOW, NOW, NOW + 3]);
  });

  it('canonicalises reading tags: sorted by key, k=v joined by commas, interned', () => {
    const { batch } = run({ readings: [reading({ tags: { zone: 'b', axis: 'x' } }), reading({ tags: { axis: 'x', zone: 'b' } }), reading()] });
    expect(numeric(batch).map((r) => r.tags)).toEqual(['axis=x,zone=b', 'axis=x,zone=b', '']);
    expect(batch.tags[0]).toBe(batch.tags[1]);
  });

  it('puts bool and string readings in the text columns', () => {
    const { out, batch } = run({ readings: [reading({ doubleValue: undefined, boolValue: true }), reading({ metric: 'state', doubleValue: undefined, stringValue: 'ok' })] });
    expect(out.readings).toBe(2);
    expect(batch.metric.length).toBe(0);
    expect(text(batch)).toEqual([
      { metric: 'temp', kind: TEXT_KIND_BOOL, time: NOW - 1000, value: 1 },
      { metric: 'state', kind: TEXT_KIND_STRING, time: NOW - 1000, value: batch.strings.indexOf('ok') },
    ]);
  });

  it('allows seq 0 and seq 2^53 - 1', () => {
    // seq 0 is absent on the wire: it reads the generated prototype default (a Long), which must come out as 0.
    const zero = run({ seq: 0, readings: [reading()] });
    expect(zero.out.reason).toBe(0);
    expect(zero.batch.msgSeq[0]).toBe(0);
    const { out, batch } = run({ seq: Number.MAX_SAFE_INTEGER, readings: [reading()] });
    expect(out.reason).toBe(0);
    expect(batch.msgSeq[0]).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('accepts metric names using every allowed character, up to the length limit', () => {
    expect(run({ readings: [reading({ metric: 'a-Z_0.9:/x' })] }).out.reason).toBe(0);
    expect(run({ readings: [reading({ metric: 'm'.repeat(LIMITS.maxMetricNameLength) })] }).out.reason).toBe(0);
  });
});

describe('decodePayload: untagged double rows read as columns', () => {
  /** The same payload with an unknown field appended: the generated decoder skips it, the column readers leave such a payload to it. */
  const generatedPath = (bytes: Uint8Array) => run(Uint8Array.from([...bytes, (9 << 3) | 0, 1]));

  it('writes what the generated decoder’s path writes, and refuses in its words (readings[i], not series[k])', () => {
    let x = 17;
    const r = () => ((x = (x * 1103515245 + 12345) >>> 0) / 4294967296);
    const values = [21.5, -0, 0, 1e308, NaN, Infinity, -3.25];
    const times = [NOW - 1000, 0, NOW, NOW + LIMITS.timestampSkewFutureMs + 1, NOW - LIMITS.timestampSkewPastMs - 1, NOW - 7];
    const metrics = ['temp', 'hum.idity', 'temp', '', 'bad name', 'm'.repeat(LIMITS.maxMetricNameLength + 1)];
    let refusals = 0;
    for (let i = 0; i < 400; i++) {
      const pick = <T>(xs: T[], common: number) => xs[r() < 0.85 ? common : Math.floor(r() * xs.length)]!;
      const readings = Array.from({ length: 1 + Math.floor(r() * 4) }, () => ({ metric: pick(metrics, Math.floor(r() * 3)), timeUnixMs: pick(times, 0), doubleValue: pick(values, 0) }));
      const bytes = ReadingBatch.encode({ seq: i, readings }).finish();
      const got = run(bytes);
      expect(got, `case ${i}`).toEqual(generatedPath(bytes));
      if (got.out.reason !== 0) {
        refusals++;
        expect(got.out.detail, `case ${i}`).toMatch(/^readings\[\d\]: /);
      }
    }
    expect(refusals).toBeGreaterThan(50);
  });

  it('a refused row payload leaves the batch as it was, and the next payload lands right', () => {
    const builder = new ColumnarBatchBuilder(0, NOW);
    const ctx = { receivedAtMs: NOW, deviceIdx: builder.intern('d'), deviceTagsIdx: 0, limits: LIMITS };
    const rows = (seq: number, values: number[]) => ReadingBatch.encode({ seq, readings: values.map((v, k) => reading({ metric: `m${k}`, doubleValue: v })) }).finish();
    expect(decodePayload(rows(1, [1, 2]), 'protobuf', ctx, builder).reason).toBe(0);
    expect(decodePayload(rows(2, [3, NaN, 4]), 'protobuf', ctx, builder)).toMatchObject({ reason: REASON_CODE.non_finite_value, detail: 'readings[1]: value NaN is not finite' });
    expect(decodePayload(rows(3, [5]), 'protobuf', ctx, builder)).toEqual({ reason: 0, readings: 1, metrics: ['m0'], series: ['m0'] });
    const batch = decodeColumnarBatch(builder.encode());
    expect([...batch.msgSeq]).toEqual([1, 3]);
    expect([...batch.value]).toEqual([1, 2, 5]);
    expect([...batch.metric].map((m) => batch.strings[m])).toEqual(['m0', 'm1', 'm0']);
    expect([...batch.numEnd]).toEqual([2, 3]);
  });
});

describe('decodePayload: int readings exactly', () => {
  const ints = (b: Batch) => [...b.intAt].map((r, k) => [b.strings[b.metric[r]!], b.intValue[k]]);

  it('keeps int_value past 2^53 exactly, the nearest double beside it, and marks small ints too', () => {
    const { out, batch } = run({
      seq: 3,
      readings: [
        reading(),
        reading({ metric: 'big', doubleValue: undefined, intValue: wireInt64(9007199254740993n) }),
        reading({ metric: 'min', doubleValue: undefined, intValue: wireInt64(-(2n ** 63n)), tags: { line: 'a' } }),
        reading({ metric: 'max', doubleValue: undefined, intValue: wireInt64(2n ** 63n - 1n) }),
        reading({ metric: 'small', doubleValue: undefined, intValue: -42 }),
        reading({ metric: 'neg', doubleValue: undefined, intValue: wireInt64(-9007199254740993n) }),
      ],
      series: [{ metric: 'vib', startUnixMs: NOW - 500, timeDeltaMs: [0], values: [2.5] }],
    });
    expect(out.reason).toBe(0);
    expect(ints(batch)).toEqual([['big', 9007199254740993n], ['min', -(2n ** 63n)], ['max', 2n ** 63n - 1n], ['small', -42n], ['neg', -9007199254740993n]]);
    expect([...batch.intAt]).toEqual([1, 2, 3, 4, 5]);
    expect([...batch.value]).toEqual([21.5, 2 ** 53, -(2 ** 63), 2 ** 63, -42, -(2 ** 53), 2.5]);
  });

  it('reads each payload’s own ints when a job holds several, and drops a refused payload’s', () => {
    const builder = new ColumnarBatchBuilder(0, NOW);
    const ctx = { receivedAtMs: NOW, deviceIdx: builder.intern('d'), deviceTagsIdx: 0, limits: LIMITS };
    const payload = (seq: number, v: bigint, bad = false) =>
      ReadingBatch.encode({ seq, readings: [reading({ metric: 'n', doubleValue: undefined, intValue: wireInt64(v) }), reading({ doubleValue: bad ? NaN : 1 })] }).finish();
    expect(decodePayload(payload(1, 2n ** 62n + 1n), 'protobuf', ctx, builder).reason).toBe(0);
    expect(decodePayload(payload(2, 2n ** 62n + 3n, true), 'protobuf', ctx, builder).reason).toBe(REASON_CODE.non_finite_value);
    expect(decodePayload(payload(3, -(2n ** 62n) - 5n), 'protobuf', ctx, builder).reason).toBe(0);
    const batch = decodeColumnarBatch(builder.encode());
    expect([...batch.intValue]).toEqual([2n ** 62n + 1n, -(2n ** 62n) - 5n]);
    expect([...batch.intAt]).toEqual([0, 2]);
  });

  it('writes a batch of doubles only as before: no int columns', () => {
    const { batch } = run({ readings: [reading()], series: [{ metric: 'x', timeDeltaMs: [0], values: [1] }] });
    expect(batch.intAt.length).toBe(0);
  });
});

describe('decodePayload: one test per reject reason (protobuf)', () => {
  it('decode_error: invalid UTF-8 in a metric name (protobufjs throws TypeError)', () => {
    const body = [0x0a, 0x02, 0xc3, 0x28, 0x19, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]; // metric = C3 28, double_value = 1
    refused(Uint8Array.from([0x12, body.length, ...body]), REASON_CODE.decode_error, /utf-8/i);
  });

  it('decode_error: truncated bytes and garbage', () => {
    const good = ReadingBatch.encode({ seq: 5, readings: [reading()] }).finish();
    refused(good.subarray(0, good.length - 3), REASON_CODE.decode_error, /index out of range/);
    refused(Uint8Array.from([0xff, 0xff, 0xff, 0xff]), REASON_CODE.decode_error);
    refused(Uint8Array.from([0x0f]), REASON_CODE.decode_error, /wire type/);
  });

  it('empty_batch: no readings and no series values', () => {
    refused(new Uint8Array(0), REASON_CODE.empty_batch);
    refused({ seq: 3 }, REASON_CODE.empty_batch);
    refused({ series: [{ metric: 'x', startUnixMs: NOW }] }, REASON_CODE.empty_batch);
  });

  it('no_value: a reading without a value', () => {
    refused({ readings: [{ metric: 'temp', timeUnixMs: NOW }] }, REASON_CODE.no_value, /readings\[0\]/);
  });

  it('non_finite_value: NaN or ±Infinity in a row or a series', () => {
    refused({ readings: [reading({ doubleValue: NaN })] }, REASON_CODE.non_finite_value);
    refused({ series: [{ metric: 'x', timeDeltaMs: [0, 1], values: [1, Infinity] }] }, REASON_CODE.non_finite_value, /series\[0\]: values\[1\]/);
    refused({ readings: [reading({ doubleValue: -Infinity })] }, REASON_CODE.non_finite_value);
  });

  it('timestamp_skew before receivedAt − past; timestamp_future after receivedAt + future (default 10 s)', () => {
    expect(LIMITS.timestampSkewFutureMs).toBe(10_000);
    refused({ readings: [reading({ timeUnixMs: NOW - LIMITS.timestampSkewPastMs - 1 })] }, REASON_CODE.timestamp_skew);
    refused({ readings: [reading({ timeUnixMs: NOW + LIMITS.timestampSkewFutureMs + 1 })] }, REASON_CODE.timestamp_future, /ms after the receive time/);
    refused({ series: [{ metric: 'x', startUnixMs: NOW, timeDeltaMs: [0, LIMITS.timestampSkewFutureMs + 1], values: [1, 2] }] }, REASON_CODE.timestamp_future);
    expect(run({ readings: [reading({ timeUnixMs: NOW + LIMITS.timestampSkewFutureMs })] }).out.reason).toBe(0);
  });

  it('metric_name_invalid: empty, or characters outside [A-Za-z0-9_.:/-]', () => {
    refused({ readings: [reading({ metric: '' })] }, REASON_CODE.metric_name_invalid, /empty/);
    refused({ readings: [reading({ metric: 'temp c' })] }, REASON_CODE.metric_name_invalid, /outside/);
    refused({ series: [{ metric: 'température', timeDeltaMs: [0], values: [1] }] }, REASON_CODE.metric_name_invalid);
  });

  it('metric_name_too_long', () => {
    refused({ readings: [reading({ metric: 'm'.repeat(LIMITS.maxMetricNameLength + 1) })] }, REASON_CODE.metric_name_too_long);
  });

  it('too_many_readings: rows and series values together, per payload', () => {
    const limits = { ...LIMITS, maxReadingsPerMessage: 3 };
    refused({ readings: [reading(), reading()], series: [{ metric: 'x', timeDeltaMs: [0, 1], values: [1, 2] }] }, REASON_CODE.too_many_readings, /4 readings, limit 3/, limits);
    expect(run({ readings: [reading()], series: [{ metric: 'x', timeDeltaMs: [0, 1], values: [1, 2] }] }, 'protobuf', limits).out.reason).toBe(0);
  });

  it('series_length_mismatch', () => {
    refused({ series: [{ metric: 'x', timeDeltaMs: [0, 1, 2], values: [1, 2] }] }, REASON_CODE.series_length_mismatch, /3 time deltas for 2 values/);
  });

  it('seq_out_of_range: above 2^53 − 1', () => {
    refused({ seq: 2 ** 53, readings: [reading()] }, REASON_CODE.seq_out_of_range);
    const maxUint64 = Uint8Array.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    const rest = ReadingBatch.encode({ readings: [reading()] }).finish();
    refused(Uint8Array.from([...maxUint64, ...rest]), REASON_CODE.seq_out_of_range);
  });

  it('tag_invalid: empty, too long, a reserved key, or what InfluxDB cannot store exactly', () => {
    const tags = [{ k: '' }, { '': 'v' }, { k: 'v'.repeat(LIMITS.maxTagLength + 1) }, { device: 'other' }, { metric: 'x' }, { time: 'x' }, { count: 'x' }, { value_int: 'x' }, { k: 'x\\' }, { k: 'a\\ b' }, { k: 'a\nb' }, { k: 'tab\t' }];
    for (const t of tags) refused({ readings: [reading({ tags: t })] }, REASON_CODE.tag_invalid);
  });

  it('accepts separators and backslashes that line protocol can carry, and keeps them exact in the batch', () => {
    const builder = new ColumnarBatchBuilder(0, NOW);
    const ctx = { receivedAtMs: NOW, deviceIdx: builder.intern('d'), deviceTagsIdx: 0, limits: LIMITS };
    const tags = { 'k=1': 'a,b', z: 'a\\b', s: 'with space' };
    expect(decodePayload(ReadingBatch.encode({ seq: 1, readings: [reading({ tags })] }).finish(), 'protobuf', ctx, builder).reason).toBe(0);
    const batch = decodeColumnarBatch(builder.encode());
    expect(parseTagSet(batch.strings[batch.tags[0]!]!)).toEqual(tags);
  });

  it('refuses a payload whole when a later reading is bad, leaving earlier messages intact', () => {
    const builder = new ColumnarBatchBuilder(0, NOW);
    const ctx = { receivedAtMs: NOW, deviceIdx: builder.intern('d'), deviceTagsIdx: 0, limits: LIMITS };
    const good = ReadingBatch.encode({ seq: 1, readings: [reading()] }).finish();
    const bad = ReadingBatch.encode({ seq: 2, readings: [reading(), reading({ metric: 'ok2' })], series: [{ metric: 'x', timeDeltaMs: [0], values: [NaN] }] }).finish();
    expect(decodePayload(good, 'protobuf', ctx, builder).reason).toBe(0);
    const out = decodePayload(bad, 'protobuf', ctx, builder);
    expect(out).toMatchObject({ reason: REASON_CODE.non_finite_value, readings: 0, metrics: [] });
    const batch = decodeColumnarBatch(builder.encode());
    expect([...batch.msgSeq]).toEqual([1]);
    expect([...batch.value]).toEqual([21.5]);
  });

  it('drops a Series-only payload refused part-way through a Series, and the next payload lands where it would have', () => {
    const builder = new ColumnarBatchBuilder(0, NOW);
    const ctx = { receivedAtMs: NOW, deviceIdx: builder.intern('d'), deviceTagsIdx: 0, limits: LIMITS };
    const series = (seq: number, second: number[]) =>
      ReadingBatch.encode({ seq, series: [{ metric: 'a', startUnixMs: NOW, timeDeltaMs: [0, 1], values: [1, 2] }, { metric: 'b', startUnixMs: NOW, timeDeltaMs: second.map((_, k) => k), values: second }] }).finish();
    expect(decodePayload(series(1, [3, 4, 5]), 'protobuf', ctx, builder).reason).toBe(0);
    expect(decodePayload(series(2, [6, 7, NaN, 8]), 'protobuf', ctx, builder)).toMatchObject({ reason: REASON_CODE.non_finite_value, detail: 'series[1]: values[2] NaN is not finite' });
    const late = ReadingBatch.encode({ seq: 3, series: [{ metric: 'b', startUnixMs: NOW, timeDeltaMs: [0, 1, LIMITS.timestampSkewFutureMs + 1], values: [9, 9, 9] }] }).finish();
    expect(decodePayload(late, 'protobuf', ctx, builder)).toMatchObject({ reason: REASON_CODE.timestamp_future, detail: expect.stringMatching(/^series\[0\]: time /) as unknown });
    expect(decodePayload(series(4, [10]), 'protobuf', ctx, builder).reason).toBe(0);
    const batch = decodeColumnarBatch(builder.encode());
    expect([...batch.msgSeq]).toEqual([1, 4]);
    expect([...batch.value]).toEqual([1, 2, 3, 4, 5, 1, 2, 10]);
    expect([...batch.time]).toEqual([NOW, NOW + 1, NOW, NOW + 1, NOW + 2, NOW, NOW + 1, NOW]);
    expect([...batch.metric].map((m) => batch.strings[m])).toEqual(['a', 'a', 'b', 'b', 'b', 'a', 'a', 'b']);
  });
});

