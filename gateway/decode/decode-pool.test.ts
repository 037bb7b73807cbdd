import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLogRecord, ReadingBatch, TEXT_KIND_BOOL } from '../../proto/index.js';
import { decodeLimitsSchema } from './config.js';
import { DecodeJobBuilder, NO_INDEX, resultMetrics } from './decode-job.js';
import { DecodePool, workerFile } from './decode-pool.js';
import { REASON_CODE } from './reasons.js';

// The pool runs the compiled worker from dist/: `npm run build` first (see workerFile).
const NOW = Date.now();
const LIMITS = decodeLimitsSchema.parse({ threads: 2, maxQueue: 1 });

/** Every reading a partition batch holds, as [device, metric, time, value] (text values as [.., kind, value]). */
function readingsOf(bytes: Uint8Array): unknown[][] {
  const b = decodeLogRecord(bytes);
  const out: unknown[][] = [];
  for (let i = 0; i < b.msgDevice.length; i++) {
    const device = b.strings[b.msgDevice[i]!];
    for (let k = i === 0 ? 0 : b.numEnd[i - 1]!; k < b.numEnd[i]!; k++) out.push([device, b.strings[b.metric[k]!], b.time[k], b.value[k]]);
    for (let k = i === 0 ? 0 : b.textEnd[i - 1]!; k < b.textEnd[i]!; k++) out.push([device, b.strings[b.textMetric[k]!], b.textTime[k], b.textKind[k], b.textValue[k]]);
  }
  return out;
}

describe('DecodePool', () => {
  let pool: DecodePool;
  beforeAll(() => {
    workerFile(); // fails fast with "run npm run build" when dist/ has no worker
    pool = new DecodePool({ threads: LIMITS.threads, maxQueue: LIMITS.maxQueue, limits: LIMITS });
  });
  afterAll(() => pool.close());

  it('decodes a mixed job in a worker: right statuses, and batches holding exactly the readings sent', async () => {
    const t = NOW - 2000;
    const b = new DecodeJobBuilder();
    b.add(ReadingBatch.encode({ seq: 1, series: [{ metric: 'vib', startUnixMs: t, timeDeltaMs: [0, 10, 20], values: [0.5, 1.5, 2.5] }] }).finish(), 3, 'dev-1', 'site=a', 'protobuf');
    b.add(ReadingBatch.encode({ seq: 2, readings: [{ metric: 'temp', timeUnixMs: NOW + 3_600_000, doubleValue: 1 }] }).finish(), 3, 'dev-1', 'site=a', 'protobuf');
    b.add(new TextEncoder().encode('{"seq": 1, "readings": [{"metric": "door", "timeUnixMs": ' + t + ', "value": true}]}'), 0, 'dev-2', '', 'json');
    b.add(new TextEncoder().encode('{"seq": oops}'), 0, 'dev-2', '', 'json');
    b.add(ReadingBatch.encode({ seq: 5, readings: [{ metric: 'temp', timeUnixMs: t, intValue: 7 }, { metric: 'hum', timeUnixMs: t, doubleValue: 40 }] }).finish(), 3, 'dev-3', '', 'protobuf');
    b.add(ReadingBatch.encode({ seq: 6 }).finish(), 5, 'dev-4', '', 'protobuf');
    const { job, transferList } = b.take(NOW);
    const sentBytes = job.payloads.slice();
    const sentCapacity = job.payloads.buffer.byteLength;

    const result = await pool.decode(job, transferList);
    expect(job.payloads.buffer.byteLength).toBe(0); // transferred to the worker, not copied
    // ... and moved back whole with the result, for the builder to reuse.
    expect(result.jobBuffers!.payloads.buffer.byteLength).toBe(sentCapacity);
    expect([...result.jobBuffers!.payloads]).toEqual([...sentBytes]);
    expect([...result.status]).toEqual([0, REASON_CODE.timestamp_future, 0, REASON_CODE.json_invalid, 0, REASON_CODE.empty_batch]);
    expect([...result.readings]).toEqual([3, 0, 1, 0, 2, 0]);
    expect([...result.msgPartitionIndex]).toEqual([0, NO_INDEX, 0, NO_INDEX, 1, NO_INDEX]);
    expect([...result.partitions]).toEqual([0, 3]);
    expect(readingsOf(result.batches[0]!)).toEqual([['dev-2', 'door', t, TEXT_KIND_BOOL, 1]]);
    expect(readingsOf(result.batches[1]!)).toEqual([
      ['dev-1', 'vib', t, 0.5], ['dev-1', 'vib', t + 10, 1.5], ['dev-1', 'vib', t + 20, 2.5],
      ['dev-3', 'temp', t, 7], ['dev-3', 'hum', t, 40],
    ]);
    expect(resultMetrics(result, 4)).toEqual(['temp', 'hum']);
    expect(result.details[3]).toMatch(/not JSON/);
  });

  it('is saturated at threads + maxQueue jobs in flight, refuses more, and frees up as jobs finish', async () => {
    const job = () => {
      const b = new DecodeJobBuilder();
      for (let i = 0; i < 200; i++) b.add(ReadingBatch.encode({ seq: i, series: [{ metric: 'x', timeDeltaMs: [0], values: [i] }] }).finish(), i % 4, `d${i}`, '', 'protobuf');
      return b.take(NOW);
    };
    const capacity = LIMITS.threads + LIMITS.maxQueue;
    const running: Promise<unknown>[] = [];
    for (let i = 0; i < capacity; i++) {
      expect(pool.saturated).toBe(false);
      const { job: j, transferList } = job();
      running.push(pool.decode(j, transferList));
    }
    expect(pool.saturated).toBe(true);
    expect(pool.inFlight).toBe(capacity);
    const extra = job();
    await expect(pool.decode(extra.job, extra.transferList)).rejects.toMatchObject({ code: 'SLUICE_DECODE_SATURATED', canRetry: true });
    await pool.whenNotSaturated();
    expect(pool.saturated).toBe(false);
    await Promise.all(running);
    expect(pool.inFlight).toBe(0);
  });

  it('decodes a job of at most inlineMaxBytes on the calling thread, the same as a worker does, and a larger one in a worker', async () => {
    const mixed = (bytes: number) => {
      const b = new DecodeJobBuilder();
      for (let i = 0; b.byteLength < bytes; i++) {
        b.add(ReadingBatch.encode({ seq: i, readings: [{ metric: `m${i % 3}`, timeUnixMs: i % 5 === 0 ? NOW + 3_600_000 : NOW - i, doubleValue: i }] }).finish(), i % 4, `d${i % 7}`, '', 'protobuf');
      }
      b.add(new TextEncoder().encode('{"seq": oops}'), 1, 'd1', '', 'json');
      return b.take(NOW);
    };
    const inlinePool = new DecodePool({ threads: 1, maxQueue: 1, limits: LIMITS, inlineMaxBytes: 4096 });
    try {
      const small = mixed(3000);
      const inline = await inlinePool.decode(small.job, small.transferList);
      expect(inlinePool.stats).toEqual({ inline: 1, worker: 0 });
      expect(small.job.payloads.byteLength).toBeGreaterThan(0); // never left this thread
      const again = mixed(3000);
      const inWorker = await pool.decode(again.job, again.transferList);
      expect({ ...inline, batches: inline.batches.map(readingsOf) }).toEqual({ ...inWorker, batches: inWorker.batches.map(readingsOf) });
      expect([...inline.status]).toContain(REASON_CODE.json_invalid);

      const large = mixed(5000);
      await inlinePool.decode(large.job, large.transferList);
      expect(inlinePool.stats).toEqual({ inline: 1, worker: 1 });
    } finally {
      await inlinePool.close();
    }
  });
});
