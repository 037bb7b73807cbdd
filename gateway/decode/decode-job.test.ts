import { describe, expect, it } from 'vitest';
import { decodeLogRecord, ReadingBatch } from '../../proto/index.js';
import { ingestMappingsSchema } from '../mappings/index.js';
import { decodeLimitsSchema } from './config.js';
import {
  DecodeJobBuilder,
  jobMessageCount,
  jobPayload,
  KIND_JSON,
  KIND_MAPPED,
  KIND_PROTOBUF,
  META_STRIDE,
  NO_INDEX,
  resultMetrics,
} from './decode-job.js';
import { decodeJob, resultTransferList } from './decode.worker.js';
import { REASON_CODE } from './reasons.js';

const NOW = 1_700_000_000_000;
const LIMITS = decodeLimitsSchema.parse({ threads: 1 });
const utf8 = new TextEncoder();

describe('DecodeJobBuilder', () => {
  it('packs payloads into one buffer with per-message meta and interned strings', () => {
    const b = new DecodeJobBuilder(4, 1); // tiny: forces both buffers to grow
    const payloads = [Uint8Array.from([1, 2, 3]), new Uint8Array(0), utf8.encode('{"seq":1}'), Uint8Array.from([9, 8, 7, 6, 5])];
    b.add(payloads[0]!, 5, 'dev-a', 'site=x', 'protobuf');
    b.add(payloads[1]!, 5, 'dev-a', 'site=x', 'protobuf');
    expect(b.add(payloads[2]!, 2, 'dev-b', '', 'json')).toBe(2);
    b.add(payloads[3]!, 9, 'dev-c', 'site=x', 'protobuf');
    b.add(payloads[2]!, 2, 'dev-b', '', { mapping: 1, name: 'm', topic: 'plant/dev-b' });
    expect(b.messageCount).toBe(5);
    expect(b.byteLength).toBe(26);

    const { job, transferList } = b.take(NOW);
    expect(job.receivedAtMs).toBe(NOW);
    expect(jobMessageCount(job)).toBe(5);
    expect(job.strings).toEqual(['dev-a', 'site=x', 'dev-b', '', 'dev-c', 'plant/dev-b']);
    payloads.forEach((p, i) => expect([...jobPayload(job, i)]).toEqual([...p]));
    const row = (i: number) => [...job.meta.subarray(i * META_STRIDE, (i + 1) * META_STRIDE)];
    expect(row(2)).toEqual([3, 9, 2, 2, 3, KIND_JSON, 0]);
    expect(row(3)).toEqual([12, 5, 9, 4, 1, KIND_PROTOBUF, 0]);
    expect(row(4)).toEqual([17, 9, 2, 2, 3, KIND_MAPPED + 1, 5]); // mapping 1, its topic
    expect(transferList).toEqual([job.payloads.buffer, job.meta.buffer]);
    expect(b.messageCount).toBe(0);
    expect(b.byteLength).toBe(0);
  });

  it('survives a transfer: the job arrives intact and the builder keeps working', () => {
    const b = new DecodeJobBuilder();
    b.add(Uint8Array.from([1, 2]), 0, 'd', '', 'protobuf');
    const { job, transferList } = b.take();
    const moved = structuredClone(job, { transfer: transferList });
    expect(job.payloads.buffer.byteLength).toBe(0); // detached: moved, not copied
    expect([...jobPayload(moved, 0)]).toEqual([1, 2]);
    b.add(Uint8Array.from([3]), 1, 'e', '', 'protobuf');
    expect([...jobPayload(b.take().job, 0)]).toEqual([3]);
  });

  it('never writes into a job it handed over, and reuses a job\'s buffers once they are recycled', () => {
    const b = new DecodeJobBuilder(8, 2);
    b.add(Uint8Array.from([1, 1, 1]), 0, 'a', '', 'protobuf');
    const first = b.take().job;
    b.add(Uint8Array.from([2, 2]), 1, 'b', '', 'protobuf');
    const second = b.take().job;
    // Both in flight at once: separate buffers, the first untouched by the second.
    expect(second.payloads.buffer).not.toBe(first.payloads.buffer);
    expect([...jobPayload(first, 0)]).toEqual([1, 1, 1]);
    b.recycle({ payloads: first.payloads, meta: first.meta }); // views: the whole buffer comes back
    b.add(Uint8Array.from([3]), 2, 'c', '', 'protobuf');
    const third = b.take().job; // filled before the recycle; the spare is what comes next
    b.add(Uint8Array.from([4, 4]), 3, 'e', '', 'protobuf');
    const fourth = b.take().job;
    expect(fourth.payloads.buffer).toBe(first.payloads.buffer);
    expect(fourth.meta.buffer).toBe(first.meta.buffer);
    expect([...jobPayload(fourth, 0)]).toEqual([4, 4]);
    expect(fourth.strings).toEqual(['e', '']);
    expect([...jobPayload(third, 0)]).toEqual([3]);
    expect([...jobPayload(second, 0)]).toEqual([2, 2]);
  });

  it('keeps spares up to its byte bound (64 MiB) and ignores buffers that were moved away', () => {
    const b = new DecodeJobBuilder(24 * 1024 * 1024, 2);
    const jobs = [0, 1, 2, 3].map((i) => {
      b.add(Uint8Array.from([i]), 0, 'd', '', 'protobuf');
      return b.take().job;
    });
    const detached = structuredClone(jobs[3]!, { transfer: [jobs[3]!.payloads.buffer as ArrayBuffer] });
    expect(detached.payloads.length).toBe(1);
    b.recycle({ payloads: jobs[3]!.payloads, meta: jobs[3]!.meta }); // detached: not kept
    for (const job of jobs.slice(0, 3)) b.recycle({ payloads: job.payloads, meta: job.meta }); // 24 + 24 MiB kept, the third would pass 64
    const next = [0, 1, 2, 3].map(() => {
      b.add(Uint8Array.from([9]), 0, 'd', '', 'protobuf');
      return b.take().job.payloads.buffer;
    });
    // The first was being filled already; then the spares, newest first; then a new buffer.
    expect(next[1]).toBe(jobs[1]!.payloads.buffer);
    expect(next[2]).toBe(jobs[0]!.payloads.buffer);
    expect(jobs.map((j) => j.payloads.buffer)).not.toContain(next[3]);
  });
});

/** A protobuf payload with `n` readings of `metric` at times NOW - 1000 + k, values base + k. */
function rows(seq: number, metric: string, n: number, base: number): Uint8Array {
  const readings = Array.from({ length: n }, (_, k) => ({ metric, timeUnixMs: NOW - 1000 + k, doubleValue: base + k }));
  return ReadingBatch.encode({ seq, readings }).finish();
}

describe('decodeJob (the worker function, called directly)', () => {
  const b = new DecodeJobBuilder();
  b.add(rows(1, 'temp', 2, 10), 4, 'dev-a', 'site=x', 'protobuf'); // 0: accepted, partition 4
  b.add(Uint8Array.from([0xff, 0xff]), 4, 'dev-a', 'site=x', 'protobuf'); // 1: decode_error
  b.add(utf8.encode(JSON.stringify({ seq: 2, readings: [{ metric: 'hum', value: 55 }, { metric: 'temp', value: 1 }] })), 1, 'dev-b', '', 'json'); // 2: accepted, partition 1
  b.add(rows(3, 'bad name', 1, 0), 7, 'dev-c', '', 'protobuf'); // 3: metric_name_invalid; partition 7 gets no batch
  b.add(rows(4, 'temp', 3, 20), 4, 'dev-d', '', 'protobuf'); // 4: accepted, partition 4, second message
  const { job } = b.take(NOW);
  const result = decodeJob(job, LIMITS);

  it('returns a status, readings count and detail per message', () => {
    expect([...result.status]).toEqual([0, REASON_CODE.decode_error, 0, REASON_CODE.metric_name_invalid, 0]);
    expect([...result.readings]).toEqual([2, 0, 2, 0, 3]);
    expect(result.details[0]).toBe('');
    expect(result.details[1]).toMatch(/^protobuf: /);
    expect(result.details[3]).toMatch(/readings\[0\]: metric name "bad name"/);
  });

  it('groups accepted messages into one batch per partition, ascending', () => {
    expect([...result.partitions]).toEqual([1, 4]);
    expect([...result.msgPartitionIndex]).toEqual([0, NO_INDEX, 0, NO_INDEX, 1]);
    const p4 = decodeLogRecord(result.batches[1]!);
    expect(p4.partition).toBe(4);
    expect(p4.receivedAtMs).toBe(NOW);
    expect([...p4.msgDevice].map((i) => p4.strings[i])).toEqual(['dev-a', 'dev-d']);
    expect([...p4.msgDeviceTags].map((i) => p4.strings[i])).toEqual(['site=x', '']);
    expect([...p4.msgSeq]).toEqual([1, 4]);
    expect([...p4.numEnd]).toEqual([2, 5]);
    expect([...p4.value]).toEqual([10, 11, 20, 21, 22]);
    const p1 = decodeLogRecord(result.batches[0]!);
    expect([...p1.metric].map((i) => p1.strings[i])).toEqual(['hum', 'temp']);
    expect([...p1.time]).toEqual([NOW, NOW]);
  });

  it('lists distinct metric names per accepted message', () => {
    expect([...result.msgMetricsEnd]).toEqual([1, 1, 3, 3, 4]);
    expect([0, 1, 2, 3, 4].map((i) => resultMetrics(result, i))).toEqual([['temp'], [], ['hum', 'temp'], [], ['temp']]);
    expect([...result.metricNames].sort()).toEqual(['hum', 'temp']); // a dictionary: order is not part of the contract
  });

  it('lists each accepted message\'s series hashes in message order, whatever partition it went to, across jobs', () => {
    // 3 000 messages of 5 series each over 7 partitions: past the 1 024 entries the worker
    // keeps between jobs, twice, so its arrays grow mid-job; a refused message every 10th.
    const metrics = ['a', 'b', 'c', 'd', 'e'];
    const seriesOf = (i: number): Uint8Array => ReadingBatch.encode({ seq: i + 1, readings: metrics.map((metric, k) => ({ metric, timeUnixMs: NOW, doubleValue: k, tags: { unit: String(i % 3) } })) }).finish();
    const big = new DecodeJobBuilder();
    for (let i = 0; i < 3000; i++) big.add(i % 10 === 9 ? Uint8Array.from([0xff]) : seriesOf(i), i % 7, `dev-${i}`, '', 'protobuf');
    const r = decodeJob(big.take(NOW).job, LIMITS);
    const hashes = (i: number): number[] => [...r.msgSeries.subarray(i === 0 ? 0 : r.msgSeriesEnd[i - 1], r.msgSeriesEnd[i])];
    for (let i = 0; i < 3000; i++) {
      if (i % 10 === 9) {
        expect(hashes(i), `message ${i}`).toEqual([]);
        continue;
      }
      expect(new Set(hashes(i)).size, `message ${i}`).toBe(5);
      // The same metrics and tags hash alike in any partition; other tags do not.
      expect(hashes(i), `message ${i}`).toEqual(hashes(i % 3));
      if (i % 3 !== 0) expect(hashes(i)).not.toEqual(hashes(0));
    }
    expect(r.msgSeries.length).toBe(2700 * 5);
    // A small job after the big one reads only its own entries.
    expect([...decodeJob(job, LIMITS).msgSeriesEnd]).toEqual([...result.msgSeriesEnd]);
    expect([...decodeJob(job, LIMITS).msgSeries]).toEqual([...result.msgSeries]);
  });

  it('reads each job on its own: a refusal where an earlier job accepted reports no readings, and earlier results stay as they were', () => {
    const accepted = new DecodeJobBuilder();
    for (let i = 0; i < 6; i++) accepted.add(rows(i + 1, `m${i % 2}`, 3, i), i % 3, `dev-${i}`, '', 'protobuf');
    const first = decodeJob(accepted.take(NOW).job, LIMITS);
    const mixed = new DecodeJobBuilder();
    for (let i = 0; i < 6; i++) mixed.add(i % 2 === 1 ? Uint8Array.from([0xff]) : rows(i + 1, 'x', 1, i), i % 3, `dev-${i}`, '', 'protobuf');
    const second = decodeJob(mixed.take(NOW).job, LIMITS);
    expect([...second.readings]).toEqual([1, 0, 1, 0, 1, 0]);
    expect([...second.msgPartitionIndex]).toEqual([0, NO_INDEX, 0, NO_INDEX, 0, NO_INDEX]);
    expect([...second.msgMetricsEnd]).toEqual([1, 1, 2, 2, 3, 3]);
    expect([...second.msgSeriesEnd]).toEqual([1, 1, 2, 2, 3, 3]);
    expect([...second.partitions]).toEqual([0, 1, 2]);
    expect(second.batches.map((record) => decodeLogRecord(record).partition)).toEqual([0, 1, 2]);
    expect([...first.readings]).toEqual([3, 3, 3, 3, 3, 3]);
    expect([...first.status]).toEqual([0, 0, 0, 0, 0, 0]);
    expect([...first.msgPartitionIndex]).toEqual([0, 0, 0, 1, 1, 1]);
    expect(first.batches.map((record) => [...decodeLogRecord(record).msgSeq])).toEqual([[1, 4], [2, 5], [3, 6]]);
  });

  it('can transfer every buffer it returns (each listed once)', () => {
    const list = resultTransferList(result);
    expect(new Set(list).size).toBe(list.length);
    const moved = structuredClone(result, { transfer: list });
    expect([...moved.status]).toEqual([0, 1, 0, 7, 0]);
    expect(result.status.byteLength).toBe(0);
  });

  it('handles an empty job', () => {
    const empty = decodeJob(new DecodeJobBuilder().take(NOW).job, LIMITS);
    expect(empty.partitions.length).toBe(0);
    expect(empty.batches).toEqual([]);
    expect(empty.status.length).toBe(0);
  });
});

describe('decodeJob with ingest.mappings in its workerData', () => {
  const mappings = ingestMappingsSchema.parse([
    { name: 'factory', topic: 'factory/+site/+device/telemetry', tags: { fromTopic: ['site'] } },
    { name: 'plant', topic: 'plant/+device', timestamp: { field: 'ts', format: 'unix_s' } },
  ]);
  const b = new DecodeJobBuilder();
  b.add(utf8.encode('{"t": 21.5, "env": {"h": 40}}'), 3, 'press-1', '', { mapping: 0, name: 'factory', topic: 'factory/oslo/press-1/telemetry' });
  b.add(utf8.encode(`{"t": 1, "ts": ${(NOW - 2000) / 1000}}`), 3, 'pump-2', '', { mapping: 1, name: 'plant', topic: 'plant/pump-2' });
  b.add(utf8.encode('{"t": 1}'), 3, 'pump-3', '', { mapping: 1, name: 'plant', topic: 'plant/pump-3' });
  b.add(utf8.encode('{"t": 1}'), 3, 'x', '', { mapping: 2, name: 'nope', topic: 'nope/x' });
  const result = decodeJob(b.take(NOW).job, { ...LIMITS, mappings });

  it('applies each message\'s mapping: topic tags, nested fields, the timestamp field', () => {
    expect([...result.status]).toEqual([0, 0, REASON_CODE.timestamp_invalid, REASON_CODE.decode_error]);
    expect(result.details[2]).toBe('timestamp field "ts" is missing');
    expect(result.details[3]).toMatch(/a mapping the worker does not have/);
    const p3 = decodeLogRecord(result.batches[0]!);
    expect([...p3.msgDevice].map((i) => p3.strings[i])).toEqual(['press-1', 'pump-2']);
    expect([...p3.metric].map((m, i) => [p3.strings[m], p3.strings[p3.tags[i]!], p3.time[i], p3.value[i]])).toEqual([
      ['t', 'site=oslo', NOW, 21.5],
      ['env.h', 'site=oslo', NOW, 40],
      ['t', '', NOW - 2000, 1],
    ]);
  });
});
