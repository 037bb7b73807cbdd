import { describe, expect, it } from 'vitest';
import { ColumnarBatchBuilder, decodeColumnarBatch, SparkplugDataType as T, SparkplugPayload, TEXT_KIND_BOOL, TEXT_KIND_STRING, type SparkplugPayloadProps } from '../../proto/index.js';
import { decodeLimitsSchema } from './config.js';
import { decodeSparkplugPayload } from './payload-decoder.js';
import { REASON_CODE } from './reasons.js';
import { aliasTableJob, BIRTH_JOB, sluiceMetricName } from './sparkplug-payload.js';

const NOW = 1_700_000_000_000;
const LIMITS = decodeLimitsSchema.parse({ threads: 1 });
let nextId = 1;
/** A data job string for a birth defining these metrics (a fresh id: the worker's cache keys on it). */
const tableJob = (metrics: { alias?: number; name: string; datatype: number }[] | undefined, scope = 'g/e') =>
  aliasTableJob(nextId++, scope, metrics?.map((m) => ({ alias: m.alias, name: m.name, datatype: m.datatype })));

/** Decodes one payload into a fresh builder; returns the outcome and every reading written, sorted by metric. */
function decode(payload: SparkplugPayloadProps | Uint8Array, job: string) {
  const bytes = payload instanceof Uint8Array ? payload : SparkplugPayload.encode(payload).finish();
  const builder = new ColumnarBatchBuilder(0, NOW);
  const ctx = { receivedAtMs: NOW, deviceIdx: builder.intern('g:e'), deviceTagsIdx: 0, limits: LIMITS };
  const out = decodeSparkplugPayload(bytes, job, ctx, builder);
  const b = decodeColumnarBatch(builder.encode());
  const numeric = [...b.metric].map((m, i) => ({ metric: b.strings[m], time: b.time[i], value: b.value[i] as unknown }));
  const text = [...b.textMetric].map((m, i) => ({
    metric: b.strings[m],
    time: b.textTime[i],
    value: b.textKind[i] === TEXT_KIND_STRING ? b.strings[b.textValue[i]!] : b.textKind[i] === TEXT_KIND_BOOL ? b.textValue[i] === 1 : undefined,
  }));
  return { out, readings: [...numeric, ...text].sort((x, y) => x.metric!.localeCompare(y.metric!)), seq: b.msgSeq[0] };
}

describe('decodeSparkplugPayload: births', () => {
  it('takes a birth\'s data metrics by name, skips bdSeq, controls, null and transient metrics', () => {
    const { out, readings, seq } = decode(
      {
        timestamp: NOW - 500,
        seq: 0,
        metrics: [
          { name: 'bdSeq', datatype: T.UInt64, longValue: 3 },
          { name: 'Node Control/Rebirth', datatype: T.Boolean, booleanValue: false },
          { name: 'Motor 1/RPM', alias: 1, datatype: T.Double, doubleValue: 1500.5, timestamp: NOW - 400 },
          { name: 'Running', alias: 2, datatype: T.Boolean, booleanValue: true },
          { name: 'Mode', alias: 3, datatype: T.String, stringValue: 'auto' },
          { name: 'Unset', alias: 4, datatype: T.Float, isNull: true },
          { name: 'Scratch', alias: 5, datatype: T.Int32, intValue: 1, isTransient: true },
        ],
      },
      BIRTH_JOB,
    );
    expect(out.reason).toBe(REASON_CODE.accepted);
    expect(readings).toEqual([
      { metric: 'Mode', time: NOW - 500, value: 'auto' },
      { metric: 'Motor_1/RPM', time: NOW - 400, value: 1500.5 },
      { metric: 'Running', time: NOW - 500, value: true },
    ]);
    // The Sparkplug seq wraps at 256: it must never reach the processors' de-duplication.
    expect(seq).toBe(0);
  });

  it('refuses a birth metric without a name', () => {
    const { out } = decode({ metrics: [{ alias: 1, datatype: T.Double, doubleValue: 1 }] }, BIRTH_JOB);
    expect(out.reason).toBe(REASON_CODE.metric_name_invalid);
    expect(out.detail).toMatch(/birth certificate metric has no name/);
  });
});

describe('decodeSparkplugPayload: data and aliases', () => {
  const birth = [
    { alias: 10, name: 'Temp', datatype: T.Float },
    { alias: 11, name: 'Count', datatype: T.Int32 },
    { alias: 300, name: 'On', datatype: T.Boolean },
    { name: 'Label', datatype: T.String },
  ];

  it('resolves aliases to the birth\'s names and datatypes; a metric\'s time, else the payload\'s, else the receive time', () => {
    const job = tableJob(birth);
    const { out, readings } = decode(
      { timestamp: NOW - 100, seq: 5, metrics: [{ alias: 10, floatValue: 21.5, timestamp: NOW - 200 }, { alias: 11, intValue: 2 ** 32 - 5 }, { alias: 300, booleanValue: false }, { name: 'Label', stringValue: 'x' }] },
      job,
    );
    expect(out.reason).toBe(REASON_CODE.accepted);
    expect(readings).toEqual([
      { metric: 'Count', time: NOW - 100, value: -5 },
      { metric: 'Label', time: NOW - 100, value: 'x' },
      { metric: 'On', time: NOW - 100, value: false },
      { metric: 'Temp', time: NOW - 200, value: 21.5 },
    ]);
    // Same job string again: the worker's cached table answers the same.
    expect(decode({ metrics: [{ alias: 10, floatValue: 1 }] }, job).readings).toEqual([{ metric: 'Temp', time: NOW, value: 1 }]);
  });

  it('refuses an alias the last birth did not define, and any alias when no birth was seen', () => {
    let r = decode({ metrics: [{ alias: 10, floatValue: 1 }, { alias: 12, intValue: 1 }] }, tableJob(birth, 'g/e/pump'));
    expect(r.out.reason).toBe(REASON_CODE.sparkplug_alias_unknown);
    expect(r.out.detail).toBe('metrics[1]: alias 12 is unknown: not in the last birth certificate of g/e/pump');
    expect(r.readings).toEqual([]);
    r = decode({ metrics: [{ alias: 10, floatValue: 1 }] }, tableJob(undefined));
    expect(r.out.reason).toBe(REASON_CODE.sparkplug_alias_unknown);
    expect(r.out.detail).toMatch(/alias 10 is unknown: no birth certificate seen for g\/e since the gateway started/);
    r = decode({ metrics: [{ floatValue: 1 }] }, tableJob(birth));
    expect(r.out.detail).toMatch(/neither a name nor an alias/);
  });

  it('refuses a payload that is not a Sparkplug protobuf', () => {
    const { out } = decode(Uint8Array.from([0x12, 0x20, 0x01]), tableJob(birth));
    expect(out.reason).toBe(REASON_CODE.decode_error);
    expect(out.detail).toMatch(/^Sparkplug B protobuf: /);
  });
});

describe('decodeSparkplugPayload: datatypes', () => {
  const one = (m: NonNullable<SparkplugPayloadProps['metrics']>[number]) => decode({ metrics: [{ name: 'm', ...m }] }, tableJob([]));
  const value = (m: NonNullable<SparkplugPayloadProps['metrics']>[number]) => {
    const r = one(m);
    expect(r.out.reason).toBe(REASON_CODE.accepted);
    return r.readings[0]!.value;
  };

  it('maps signed ints from two\'s complement, unsigned ints, 64-bit ints, floats, DateTime, strings', () => {
    expect(value({ datatype: T.Int8, intValue: 0xff })).toBe(-1);
    expect(value({ datatype: T.Int16, intValue: 0x8000 })).toBe(-32768);
    expect(value({ datatype: T.Int32, intValue: 0x7fffffff })).toBe(2147483647);
    expect(value({ datatype: T.UInt32, intValue: 0xffffffff })).toBe(4294967295);
    expect(value({ datatype: T.UInt8, intValue: 200 })).toBe(200);
    expect(value({ datatype: T.Int64, longValue: 2 ** 53 - 1 })).toBe(2 ** 53 - 1);
    expect(value({ datatype: T.Int64, longValue: -6 })).toBe(-6); // written as 2^64 − 6, as Tahu writes it
    expect(value({ datatype: T.Int64, longValue: -(2 ** 53) + 1 })).toBe(-(2 ** 53) + 1);
    expect(value({ datatype: T.UInt64, longValue: 42 })).toBe(42);
    expect(value({ datatype: T.UInt64, longValue: -1 })).toBe(2 ** 64); // 2^64 − 1 on the wire, inexact beyond 2^53
    expect(value({ datatype: T.DateTime, longValue: NOW })).toBe(NOW);
    expect(value({ datatype: T.Float, floatValue: 0.5 })).toBe(0.5);
    expect(value({ datatype: T.Double, doubleValue: 1e-300 })).toBe(1e-300);
    expect(value({ datatype: T.Text, stringValue: 'long text' })).toBe('long text');
    expect(value({ datatype: T.UUID, stringValue: '0b8e…' })).toBe('0b8e…');
  });

  it('refuses datasets, templates, bytes, files, arrays and Unknown with the metric and the type', () => {
    const cases: [number, object, RegExp][] = [
      [T.DataSet, { datasetValue: { numOfColumns: 1, columns: ['a'], types: [3], rows: [] } }, /datatype DataSet is not supported/],
      [T.Template, { templateValue: { templateRef: 'Motor' } }, /datatype Template is not supported/],
      [T.Bytes, { bytesValue: Uint8Array.from([1]) }, /datatype Bytes is not supported/],
      [T.File, { bytesValue: Uint8Array.from([1]) }, /datatype File is not supported/],
      [T.Int32Array, { bytesValue: Uint8Array.from([1, 0, 0, 0]) }, /datatype Int32Array is not supported/],
      [T.Unknown, { doubleValue: 1 }, /datatype Unknown is not supported/],
    ];
    for (const [datatype, v, detail] of cases) {
      const r = one({ datatype, ...v });
      expect(r.out.reason).toBe(REASON_CODE.value_unsupported);
      expect(r.out.detail).toMatch(/^metrics\[0\] "m": /);
      expect(r.out.detail).toMatch(detail);
    }
  });

  it('refuses a value in a field its datatype does not use, and a metric with no value', () => {
    const r = one({ datatype: T.Int32, floatValue: 1.5 });
    expect(r.out.reason).toBe(REASON_CODE.value_unsupported);
    expect(r.out.detail).toMatch(/datatype Int32 carries intValue, got floatValue/);
    expect(one({ datatype: T.Double }).out.reason).toBe(REASON_CODE.no_value);
  });

  it('names metrics with the characters Sluice allows', () => {
    expect(sluiceMetricName('Properties/Hardware Make')).toBe('Properties/Hardware_Make');
    expect(sluiceMetricName('Temp (°C)')).toBe('Temp___C_');
    expect(sluiceMetricName('a.b:c/d-e_f')).toBe('a.b:c/d-e_f');
  });
});
