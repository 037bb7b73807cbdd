import { describe, expect, it } from 'vitest';
import { ColumnarBatchBuilder, decodeColumnarBatch, TEXT_KIND_BOOL, TEXT_KIND_STRING } from '../../proto/index.js';
import { ingestMappingSchema, MappingRules, type IngestMappingInput } from '../mappings/index.js';
import { decodeLimitsSchema } from './config.js';
import { parseTime } from './mapped-json.js';
import { decodeMappedPayload } from './payload-decoder.js';
import { REASON_CODE } from './reasons.js';

const NOW = 1_700_000_000_000;
const LIMITS = decodeLimitsSchema.parse({ threads: 1 });
const TOPIC = 'factory/oslo/press-1/telemetry';
const BASE = { name: 'factory', topic: 'factory/+site/+device/telemetry' };

/** Maps one payload through `mapping` into a fresh builder; returns the outcome and every reading written, sorted by metric. */
function map(doc: unknown, mapping: Partial<IngestMappingInput> = {}, topic = TOPIC) {
  const rules = new MappingRules(ingestMappingSchema.parse({ ...BASE, ...mapping }), 0);
  const bytes = new TextEncoder().encode(typeof doc === 'string' ? doc : JSON.stringify(doc));
  const builder = new ColumnarBatchBuilder(0, NOW);
  const ctx = { receivedAtMs: NOW, deviceIdx: builder.intern('press-1'), deviceTagsIdx: 0, limits: LIMITS };
  const out = decodeMappedPayload(bytes, rules, topic, ctx, builder);
  const b = decodeColumnarBatch(builder.encode());
  const numeric = [...b.metric].map((m, i) => ({ metric: b.strings[m], tags: b.strings[b.tags[i]!], time: b.time[i], value: b.value[i] as unknown }));
  const text = [...b.textMetric].map((m, i) => ({
    metric: b.strings[m],
    tags: b.strings[b.textTags[i]!],
    time: b.textTime[i],
    value: b.textKind[i] === TEXT_KIND_STRING ? b.strings[b.textValue[i]!] : b.textKind[i] === TEXT_KIND_BOOL ? b.textValue[i] === 1 : undefined,
  }));
  const readings = [...numeric, ...text].sort((x, y) => x.metric!.localeCompare(y.metric!));
  return { out, readings, seq: b.msgSeq[0] };
}

function refused(doc: unknown, reason: number, detail: RegExp, mapping: Partial<IngestMappingInput> = {}) {
  const { out, readings } = map(doc, mapping);
  expect(out.reason).toBe(reason);
  expect(out.detail).toMatch(detail);
  expect(readings).toEqual([]);
}

describe('decodeMappedPayload: JSON on mapped topics', () => {
  it('makes every field of a flat object a reading named by its key, at the receive time, seq 0', () => {
    const { out, readings, seq } = map({ temperature: 21.5, count: 3, on: true, state: 'idle' });
    expect(out).toMatchObject({ reason: 0, readings: 4 });
    expect(seq).toBe(0);
    expect(readings).toEqual([
      { metric: 'count', tags: '', time: NOW, value: 3 },
      { metric: 'on', tags: '', time: NOW, value: true },
      { metric: 'state', tags: '', time: NOW, value: 'idle' },
      { metric: 'temperature', tags: '', time: NOW, value: 21.5 },
    ]);
  });

  it('flattens nested objects with the separator, skips null', () => {
    expect(map({ env: { t: 1, h: { rel: 40 } }, gone: null }).readings.map((r) => [r.metric, r.value])).toEqual([
      ['env.h.rel', 40],
      ['env.t', 1],
    ]);
    expect(map({ env: { t: 1 } }, { separator: '_' }).readings.map((r) => r.metric)).toEqual(['env_t']);
  });

  it('tags every reading with the named topic levels and the tag fields, which are not readings', () => {
    const { readings } = map({ t: 1, on: false, meta: { fw: 'v2', rev: 3 } }, { tags: { fromTopic: ['site'], fromFields: ['meta.fw', 'meta.rev'] } });
    expect(readings).toEqual([
      { metric: 'on', tags: 'meta.fw=v2,meta.rev=3,site=oslo', time: NOW, value: false },
      { metric: 't', tags: 'meta.fw=v2,meta.rev=3,site=oslo', time: NOW, value: 1 },
    ]);
  });

  it('takes only the included fields, and never the excluded ones', () => {
    expect(map({ a: 1, b: 2, c: { d: 3 } }, { fields: { include: ['a', 'c.d'] } }).readings.map((r) => r.metric)).toEqual(['a', 'c.d']);
    expect(map({ a: 1, b: [1, 2], c: { d: 3 }, e: { f: 4 } }, { fields: { exclude: ['b', 'c.d', 'e'] } }).readings.map((r) => r.metric)).toEqual(['a']);
    expect(map({ a: 1, b: [1, 2] }, { fields: { include: ['a'] } }).readings.map((r) => r.metric)).toEqual(['a']);
  });

  it('reads the timestamp field in each format; the field is not a reading', () => {
    const t = NOW - 1234;
    const cases: [IngestMappingInput['timestamp'], unknown][] = [
      [{ field: 'ts', format: 'unix_s' }, t / 1000],
      [{ field: 'ts', format: 'unix_s' }, String(t / 1000)],
      [{ field: 'ts', format: 'unix_ms' }, t],
      [{ field: 'ts', format: 'unix_ms' }, String(t)],
      [{ field: 'ts', format: 'unix_ns' }, `${t}654321`],
      [{ field: 'ts', format: 'unix_ns' }, t * 1e6 + 654321],
      [{ field: 'ts', format: 'rfc3339' }, new Date(t).toISOString()],
      [{ field: 'ts', format: 'rfc3339' }, `${new Date(t).toISOString().slice(0, 23)}456789Z`],
      [{ field: 'ts', format: 'rfc3339' }, '2023-11-14T23:13:18.766+01:00'], // NOW - 1234 in UTC+1
      [{ field: 'meta.ts', format: 'unix_ms' }, t],
    ];
    for (const [timestamp, value] of cases) {
      const doc = timestamp!.field === 'meta.ts' ? { x: 1, meta: { ts: value } } : { x: 1, ts: value };
      const { out, readings } = map(doc, { timestamp });
      expect(out.reason, `${timestamp!.format} ${String(value)}`).toBe(0);
      expect(readings, `${timestamp!.format} ${String(value)}`).toEqual([{ metric: 'x', tags: '', time: t, value: 1 }]);
    }
  });

  it('parses each time format exactly', () => {
    expect(parseTime('1700000000123456789', 'unix_ns')).toBe(1_700_000_000_123);
    expect(parseTime(1.5, 'unix_s')).toBe(1500);
    expect(parseTime('2023-11-14T22:13:20Z', 'rfc3339')).toBe(NOW);
    expect(parseTime('2023-11-14 22:13:20.5z', 'rfc3339')).toBe(NOW + 500);
    for (const bad of ['2023-11-14', '2023-11-14T22:13:20', 'yesterday', 1700000000]) expect(parseTime(bad, 'rfc3339'), String(bad)).toBeNaN();
    for (const bad of ['-5', '1e3', 'x', true, null]) expect(parseTime(bad, 'unix_ms'), String(bad)).toBeNaN();
  });

  it('refuses a missing or unparsable timestamp with the field named', () => {
    refused({ x: 1 }, REASON_CODE.timestamp_invalid, /^timestamp field "ts" is missing$/, { timestamp: { field: 'ts' } });
    refused({ x: 1, ts: 'noon' }, REASON_CODE.timestamp_invalid, /^timestamp field "ts" "noon" is not a unix_ms time$/, { timestamp: { field: 'ts' } });
    refused({ x: 1, ts: 0 }, REASON_CODE.timestamp_invalid, /not a unix_s time/, { timestamp: { field: 'ts', format: 'unix_s' } });
  });

  it('takes seq from the sequence field (a number or a decimal string), which is not a reading', () => {
    const seq = { sequence: 'n' };
    expect(map({ t: 1, n: 42 }, seq)).toMatchObject({ seq: 42, readings: [{ metric: 't', value: 1 }] });
    expect(map({ t: 1, n: '9007199254740991' }, seq).seq).toBe(9007199254740991);
    expect(map({ t: 1, meta: { n: 7 } }, { sequence: 'meta.n' }).seq).toBe(7);
  });

  it('refuses a missing sequence, or one that is not a whole number from 1 to 2^53 - 1', () => {
    const seq = { sequence: 'n' };
    refused({ t: 1 }, REASON_CODE.seq_invalid, /^sequence field "n" is missing$/, seq);
    for (const n of [0, -1, 1.5, '12a', 9007199254740992, '9007199254740993', true]) refused({ t: 1, n }, REASON_CODE.seq_invalid, /^sequence field "n" .* is not a whole number/, seq);
  });

  it('applies the limits of the native paths: time skew, metric names, tag values, readings per message', () => {
    refused({ x: 1, ts: NOW + 60_000 }, REASON_CODE.timestamp_future, /after the receive time/, { timestamp: { field: 'ts' } });
    refused({ 'bad name': 1 }, REASON_CODE.metric_name_invalid, /"bad name"/);
    refused({ t: 1, fw: '' }, REASON_CODE.tag_invalid, /tag "fw"=""/, { tags: { fromFields: ['fw'] } });
    refused(Object.fromEntries(Array.from({ length: LIMITS.maxReadingsPerMessage + 1 }, (_, i) => [`m${i}`, i])), REASON_CODE.too_many_readings, /10001 readings/);
    refused({ gone: null }, REASON_CODE.empty_batch, /no readings/);
  });

  it('refuses what it cannot map, saying why', () => {
    refused('{"t": 1', REASON_CODE.json_invalid, /^not JSON/);
    refused([{ t: 1 }], REASON_CODE.json_invalid, /^a mapped payload is a JSON object, got an array$/);
    refused(21.5, REASON_CODE.json_invalid, /^a mapped payload is a JSON object, got 21.5$/);
    refused({ t: [1, 2] }, REASON_CODE.value_unsupported, /^field "t" is an array: name the array in fields.exclude/);
    refused({ t: 1, fw: { v: 2 } }, REASON_CODE.value_unsupported, /^field "fw" is an object: a tag value is/, { tags: { fromFields: ['fw'] } });
  });
});
