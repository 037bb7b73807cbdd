import { describe, expect, it } from 'vitest';
import { decodeLimitsSchema, decodePayload } from '../gateway/decode/index.js';
import { ColumnarBatchBuilder, decodeColumnarBatch, decodeLogRecord, compressBatch, ReadingBatch, type ColumnarBatch } from '../proto/index.js';
import { wireInt64 } from '../proto/testing/wire-int64.js';
import { rawPoints } from './points.js';
import { toLineProtocol, type SinkPoint } from './sink/index.js';

const NOW = 1_700_000_000_000;
const LIMITS = decodeLimitsSchema.parse({ threads: 1 });

/** The raw output's lines for a batch, every message accepted unless `accepted` says otherwise. */
function rawLines(batch: ColumnarBatch, accepted = new Uint8Array(batch.msgDevice.length).fill(1)): string[] {
  const points: SinkPoint[] = [];
  rawPoints(batch, accepted, (p) => points.push(p));
  return points.map(toLineProtocol);
}

describe('rawPoints: int readings', () => {
  it('writes int_value exactly as value_int, beside the float value, from the protobuf payload through the log record', () => {
    const builder = new ColumnarBatchBuilder(0, NOW);
    const ctx = { receivedAtMs: NOW, deviceIdx: builder.intern('d1'), deviceTagsIdx: 0, limits: LIMITS };
    const payload = ReadingBatch.encode({
      seq: 1,
      readings: [
        { metric: 'big', timeUnixMs: NOW - 3, intValue: wireInt64(9007199254740993n) },
        { metric: 'min', timeUnixMs: NOW - 2, intValue: wireInt64(-9223372036854775808n) },
        { metric: 'max', timeUnixMs: NOW - 1, intValue: wireInt64(9223372036854775807n) },
        { metric: 'small', timeUnixMs: NOW, intValue: -7 },
        { metric: 'temp', timeUnixMs: NOW, doubleValue: 21.5 },
      ],
    }).finish();
    expect(decodePayload(payload, 'protobuf', ctx, builder).reason).toBe(0);
    const batch = decodeLogRecord(compressBatch(builder.encode()));
    expect(rawLines(batch)).toEqual([
      `readings,device=d1,metric=big value=9007199254740992,value_int=9007199254740993i ${NOW - 3}`,
      `readings,device=d1,metric=min value=-9223372036854776000,value_int=-9223372036854775808i ${NOW - 2}`,
      `readings,device=d1,metric=max value=9223372036854776000,value_int=9223372036854775807i ${NOW - 1}`,
      `readings,device=d1,metric=small value=-7,value_int=-7i ${NOW}`,
      `readings,device=d1,metric=temp value=21.5 ${NOW}`,
    ]);
  });

  it('matches each int to its reading across messages left out (duplicates, dropped) and text readings', () => {
    const b = new ColumnarBatchBuilder(0, NOW);
    const n = b.intern('n');
    b.beginMessage(b.intern('a'), 0, 1);
    b.addInt(n, 0, 1, 10n);
    b.addNumeric(n, 0, 2, 0.5);
    b.beginMessage(b.intern('b'), 0, 1); // left out
    b.addInt(n, 0, 3, 20n);
    b.addInt(n, 0, 4, 21n);
    b.beginMessage(b.intern('c'), 0, 1);
    b.addNumeric(n, 0, 5, 1.5);
    b.addText(b.intern('s'), 0, 5, 2, b.intern('x'));
    b.addInt(n, 0, 6, 30n);
    expect(rawLines(decodeColumnarBatch(b.encode()), Uint8Array.from([1, 0, 1]))).toEqual([
      'readings,device=a,metric=n value=10,value_int=10i 1',
      'readings,device=a,metric=n value=0.5 2',
      'readings,device=c,metric=n value=1.5 5',
      'readings,device=c,metric=n value=30,value_int=30i 6',
      'readings,device=c,metric=s value_str="x" 5',
    ]);
  });

  it('writes a version 1 batch (int readings as doubles) as before: value only', () => {
    const b = new ColumnarBatchBuilder(0, NOW);
    b.beginMessage(b.intern('d1'), 0, 1);
    b.addNumeric(b.intern('count'), 0, 1, 9007199254740992);
    const bytes = b.encode();
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint16(4, true)).toBe(1);
    expect(rawLines(decodeColumnarBatch(bytes))).toEqual(['readings,device=d1,metric=count value=9007199254740992 1']);
  });
});
