import { describe, expect, it } from 'vitest';
import { decodeLogRecord, ReadingBatch } from '../../proto/index.js';
import { decodeLimitsSchema } from './config.js';
import { DecodeJobBuilder } from './decode-job.js';
import { decodeJob } from './decode.worker.js';

const NOW = 1_700_000_000_000;
const LIMITS = decodeLimitsSchema.parse({ threads: 1 });

/** A LockstepFleet-style payload: one series of `level` readings. */
function series(seq: number): Uint8Array {
  return ReadingBatch.encode({ seq, series: [{ metric: 'level', startUnixMs: NOW - 1000, timeDeltaMs: [0, 100, 200], values: [1, 2, 3] }] }).finish();
}

/** Every reading of every batch, as [partition, device, metric]. */
function decoded(job: ReturnType<DecodeJobBuilder['take']>['job']): [number, string | undefined, string | undefined][] {
  const out: [number, string | undefined, string | undefined][] = [];
  for (const bytes of decodeJob(job, LIMITS).batches) {
    const b = decodeLogRecord(bytes);
    for (let m = 0; m < b.msgDevice.length; m++) {
      for (let r = m === 0 ? 0 : b.numEnd[m - 1]!; r < b.numEnd[m]!; r++) out.push([b.partition, b.strings[b.msgDevice[m]!], b.strings[b.metric[r]!]]);
    }
  }
  return out;
}

describe('decodeJob with the reused batch builder', () => {
  it('interns a metric afresh in every partition batch and every job (the builder is reset in between)', () => {
    // Regression: the payload writer cached the metric's dictionary index per builder
    // object; the worker's one builder is reset per partition and per job, so the second
    // partition's batch pointed `level` at a string of another dictionary (its device id,
    // or past the end: undefined), which crashed the processors' sink after a restart.
    for (let round = 0; round < 3; round++) {
      const b = new DecodeJobBuilder();
      b.add(series(round * 3 + 1), 5, 'dev-long-name-a', '', 'protobuf');
      b.add(series(round * 3 + 2), 9, 'dev-b', 'site=x', 'protobuf');
      b.add(series(round * 3 + 3), 2, 'dev-c', '', 'protobuf');
      const readings = decoded(b.take(NOW).job);
      expect(readings).toHaveLength(9);
      for (const [partition, device, metric] of readings) {
        expect(typeof device, `device in partition ${partition}`).toBe('string');
        expect(metric, `metric of ${device} in partition ${partition}`).toBe('level');
      }
    }
  });
});
