import { describe, expect, it } from 'vitest';
import { decodeLogRecord, MSG_FLAG_STATUS, ReadingBatch, TEXT_KIND_BOOL } from '../../proto/index.js';
import { decodeLimitsSchema } from './config.js';
import { DecodeJobBuilder, KIND_STATUS, META_KIND, META_STRIDE } from './decode-job.js';
import { decodeJob } from './decode.worker.js';
import { statusJob } from './status-record.js';

const NOW = 1_700_000_000_000;
const LIMITS = decodeLimitsSchema.parse({ threads: 1 });

describe('status records through a decode job', () => {
  const b = new DecodeJobBuilder();
  const reading = ReadingBatch.encode({ seq: 0, readings: [{ metric: 'Temp', timeUnixMs: NOW - 5, doubleValue: 20 }] }).finish();
  b.add(new Uint8Array(0), 3, 'plant:edge1', '', statusJob({ device: 'plant:edge1', event: 'NBIRTH', online: true, timeMs: NOW - 10, tags: { group: 'plant', edge: 'edge1', kind: 'node' } }));
  b.add(reading, 3, 'plant:edge1', '', 'protobuf');
  // A death's own payload may ride along; the worker does not read it.
  b.add(Uint8Array.from([0xff]), 5, 'plant:edge1:pump', 'site=x', statusJob({ device: 'plant:edge1:pump', event: 'NDEATH', online: false, timeMs: NOW, tags: { group: 'plant', edge: 'edge1', kind: 'device' } }));
  const { job } = b.take(NOW);
  const result = decodeJob(job, LIMITS);

  it('tags the job entry KIND_STATUS', () => {
    expect(job.meta[META_KIND]).toBe(KIND_STATUS);
    expect(job.meta[2 * META_STRIDE + META_KIND]).toBe(KIND_STATUS);
  });

  it('writes one flagged message with one bool text reading: event, tags, time, online', () => {
    expect([...result.status]).toEqual([0, 0, 0]);
    const p3 = decodeLogRecord(result.batches[0]!);
    const s = p3.strings;
    expect([...p3.msgFlags]).toEqual([MSG_FLAG_STATUS, 0]);
    expect([...p3.msgSeq]).toEqual([0, 0]);
    expect([...p3.numEnd]).toEqual([0, 1]); // the status message has no numeric readings
    expect([...p3.textEnd]).toEqual([1, 1]);
    expect([s[p3.textMetric[0]!], s[p3.textTags[0]!], p3.textTime[0], p3.textKind[0], p3.textValue[0]]).toEqual(['NBIRTH', 'edge=edge1,group=plant,kind=node', NOW - 10, TEXT_KIND_BOOL, 1]);
    const p5 = decodeLogRecord(result.batches[1]!);
    expect([...p5.msgFlags]).toEqual([MSG_FLAG_STATUS]);
    expect(p5.strings[p5.msgDeviceTags[0]!]).toBe('site=x');
    expect([p5.strings[p5.textMetric[0]!], p5.textTime[0], p5.textValue[0]]).toEqual(['NDEATH', NOW, 0]);
  });

  it('counts no readings and no metrics for the cardinality guard', () => {
    expect([...result.readings]).toEqual([0, 1, 0]);
    expect([...result.msgMetricsEnd]).toEqual([0, 1, 1]);
    expect([...result.msgSeriesEnd]).toEqual([0, 1, 1]);
  });
});
