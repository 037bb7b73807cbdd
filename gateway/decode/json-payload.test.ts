import { describe, expect, it } from 'vitest';
import { ColumnarBatchBuilder, decodeColumnarBatch, TEXT_KIND_BOOL, TEXT_KIND_STRING } from '../../proto/index.js';
import { decodeLimitsSchema } from './config.js';
import { decodePayload } from './payload-decoder.js';
import { REASON_CODE } from './reasons.js';

const NOW = 1_700_000_000_000;
const LIMITS = decodeLimitsSchema.parse({ threads: 1 });

function json(doc: unknown) {
  const bytes = typeof doc === 'string' ? new TextEncoder().encode(doc) : doc instanceof Uint8Array ? doc : new TextEncoder().encode(JSON.stringify(doc));
  const builder = new ColumnarBatchBuilder(0, NOW);
  const ctx = { receivedAtMs: NOW, deviceIdx: builder.intern('dev-j'), deviceTagsIdx: 0, limits: LIMITS };
  const out = decodePayload(bytes, 'json', ctx, builder);
  const b = decodeColumnarBatch(builder.encode());
  const rows = [...b.metric].map((m, i) => [b.strings[m], b.strings[b.tags[i]!], b.time[i], b.value[i]]);
  const texts = [...b.textMetric].map((m, i) => [b.strings[m], b.textKind[i], b.textKind[i] === TEXT_KIND_STRING ? b.strings[b.textValue[i]!] : b.textValue[i]]);
  return { out, rows, texts, seq: b.msgSeq[0] };
}

function invalid(doc: unknown, detail: RegExp) {
  const { out, rows, texts } = json(doc);
  expect(out.reason).toBe(REASON_CODE.json_invalid);
  expect(out.detail).toMatch(detail);
  expect(rows.length + texts.length).toBe(0);
}

describe('decodePayload: JSON payloads', () => {
  it('reads the proto3 JSON mapping: camelCase, 64-bit integers as strings, every value kind', () => {
    const { out, rows, texts, seq } = json({
      seq: '42',
      readings: [
        { metric: 'temp', timeUnixMs: String(NOW - 5), doubleValue: 20.5, tags: { b: '2', a: '1' } },
        { metric: 'count', timeUnixMs: NOW - 4, intValue: '-9007199254740991' },
        { metric: 'door', boolValue: false },
        { metric: 'state', stringValue: 'idle' },
      ],
      series: [{ metric: 'vib', startUnixMs: String(NOW), timeDeltaMs: ['0', 5], values: [1, '2.5'] }],
    });
    expect(out).toEqual({ reason: 0, readings: 6, metrics: ['temp', 'count', 'door', 'state', 'vib'], series: ['temp\u0000a=1,b=2', 'count', 'door', 'state', 'vib'] });
    expect(seq).toBe(42);
    expect(rows).toEqual([
      ['temp', 'a=1,b=2', NOW - 5, 20.5],
      ['count', '', NOW - 4, -9007199254740991],
      ['vib', '', NOW, 1],
      ['vib', '', NOW + 5, 2.5],
    ]);
    expect(texts).toEqual([['door', TEXT_KIND_BOOL, 0], ['state', TEXT_KIND_STRING, 'idle']]);
  });

  it('keeps intValue strings exact over the whole int64 range, and refuses them outside it', () => {
    const builder = new ColumnarBatchBuilder(0, NOW);
    const ctx = { receivedAtMs: NOW, deviceIdx: builder.intern('dev-j'), deviceTagsIdx: 0, limits: LIMITS };
    const values = ['9007199254740993', '-9007199254740993', '-9223372036854775808', '9223372036854775807', '-9007199254740991', '123456789012345', '0000000000000000000042'];
    const doc = { seq: 1, readings: [...values.map((v) => ({ metric: 'n', timeUnixMs: NOW, intValue: v })), { metric: 'f', timeUnixMs: NOW, doubleValue: '9007199254740993' }, { metric: 'm', timeUnixMs: NOW, int_value: 2 ** 60 }] };
    expect(decodePayload(new TextEncoder().encode(JSON.stringify(doc)), 'json', ctx, builder).reason).toBe(0);
    const b = decodeColumnarBatch(builder.encode());
    // Every int reading is in the int columns; the double reading (index 7) is not.
    expect([...b.intAt]).toEqual([0, 1, 2, 3, 4, 5, 6, 8]);
    expect([...b.intValue]).toEqual([...values.map((v) => BigInt(v)), 2n ** 60n]);
    expect([...b.value]).toEqual([2 ** 53, -(2 ** 53), -(2 ** 63), 2 ** 63, -9007199254740991, 123456789012345, 42, 2 ** 53, 2 ** 60]);
    for (const v of ['9223372036854775808', '-9223372036854775809', '99999999999999999999']) invalid({ readings: [{ metric: 'n', intValue: v }] }, /intValue: expected an int64/);
    invalid({ readings: [{ metric: 'n', intValue: 2 ** 63 }] }, /intValue: expected an int64/);
  });

  it('reads snake_case field names', () => {
    const { out, rows } = json({
      seq: 1,
      readings: [{ metric: 'a', time_unix_ms: NOW - 1, double_value: 1 }, { metric: 'b', int_value: 2 }],
      series: [{ metric: 'c', start_unix_ms: NOW, time_delta_ms: [1], values: [3] }],
    });
    expect(out.reason).toBe(0);
    expect(rows).toEqual([['a', '', NOW - 1, 1], ['b', '', NOW, 2], ['c', '', NOW + 1, 3]]);
  });

  it('reads the convenience `value`: number → double, boolean → bool, string → string', () => {
    const { out, rows, texts } = json({ readings: [{ metric: 'n', value: 3 }, { metric: 'b', value: true }, { metric: 's', value: 'x' }] });
    expect(out.reason).toBe(0);
    expect(rows).toEqual([['n', '', NOW, 3]]);
    expect(texts).toEqual([['b', TEXT_KIND_BOOL, 1], ['s', TEXT_KIND_STRING, 'x']]);
  });

  it('treats null as absent and accepts seq as a number', () => {
    const { out, seq } = json({ seq: 7, readings: [{ metric: 'n', value: 1, tags: null, timeUnixMs: null }], series: null });
    expect(out.reason).toBe(0);
    expect(seq).toBe(7);
  });

  it('refuses JSON nested 100,000 levels deep as json_invalid, not as a decode error', () => {
    const deep = `{"seq": 1, "readings": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const { out } = json(deep);
    expect(out).toMatchObject({ reason: REASON_CODE.json_invalid, detail: 'readings[0]: expected an object, got a value nested too deeply to show' });
  });

  it('refuses what the protobuf path refuses, with the same reasons', () => {
    expect(json({}).out.reason).toBe(REASON_CODE.empty_batch);
    expect(json({ readings: [{ metric: 'n', doubleValue: 'NaN' }] }).out.reason).toBe(REASON_CODE.non_finite_value);
    expect(json('{"readings": [{"metric": "n", "value": 1e400}]}').out.reason).toBe(REASON_CODE.non_finite_value);
    expect(json({ readings: [{ metric: 'n' }] }).out.reason).toBe(REASON_CODE.no_value);
    expect(json({ readings: [{ value: 1 }] }).out.reason).toBe(REASON_CODE.metric_name_invalid);
    expect(json({ seq: '18446744073709551615', readings: [{ metric: 'n', value: 1 }] }).out.reason).toBe(REASON_CODE.seq_out_of_range);
    expect(json({ series: [{ metric: 'v', timeDeltaMs: [0], values: [1, 2] }] }).out.reason).toBe(REASON_CODE.series_length_mismatch);
    expect(json({ readings: [{ metric: 'n', value: 1, tags: { k: 'a\\' } }] }).out.reason).toBe(REASON_CODE.tag_invalid);
  });

  it('json_invalid: not JSON, invalid UTF-8, or not an object', () => {
    invalid('{"seq": 1,', /not JSON/);
    invalid(Uint8Array.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]), /not JSON/);
    invalid([1, 2], /payload: expected an object/);
    invalid('null', /payload: expected an object/);
  });

  it('json_invalid: unknown fields, named by path', () => {
    invalid({ seq: 1, reading: [] }, /payload\.reading: unknown field/);
    invalid({ readings: [{ metric: 'n', value: 1, timestamp: NOW }] }, /readings\[0\]\.timestamp: unknown field/);
    invalid({ series: [{ metric: 'v', deltas: [1] }] }, /series\[0\]\.deltas: unknown field/);
  });

  it('json_invalid: wrong types, with path, expectation and value', () => {
    invalid({ seq: -1 }, /seq: expected a non-negative integer/);
    invalid({ seq: 1.5 }, /seq: expected a non-negative integer.*got 1\.5/);
    invalid({ readings: {} }, /readings: expected an array/);
    invalid({ readings: [{ metric: 5, value: 1 }] }, /readings\[0\]\.metric: expected a string, got 5/);
    invalid({ readings: [{ metric: 'n', value: [1] }] }, /readings\[0\]\.value: expected a number, boolean or string/);
    invalid({ readings: [{ metric: 'n', doubleValue: 'abc' }] }, /doubleValue: expected a number, got "abc"/);
    invalid({ readings: [{ metric: 'n', intValue: '1.5' }] }, /intValue: expected an int64/);
    invalid({ readings: [{ metric: 'n', value: 1, tags: { k: 1 } }] }, /readings\[0\]\.tags\.k: expected a string/);
    invalid({ series: [{ metric: 'v', timeDeltaMs: [0, 'x'], values: [1, 2] }] }, /series\[0\]\.timeDeltaMs\[1\]/);
    invalid({ series: [{ metric: 'v', timeDeltaMs: [0], values: [true] }] }, /series\[0\]\.values\[0\]: expected a number/);
  });

  it('json_invalid: two value fields in one reading (a proto oneof)', () => {
    invalid({ readings: [{ metric: 'n', doubleValue: 1, intValue: 2 }] }, /more than one value/);
    invalid({ readings: [{ metric: 'n', value: 1, boolValue: true }] }, /more than one value/);
  });
});
