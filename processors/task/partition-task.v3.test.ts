import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Log, LogRecord } from '../../log/index.js';
import { compressBatch, decodeLogRecord, MSG_FLAG_DROPPED, msgFlagsOffset, uncompressBatch } from '../../proto/index.js';
import { decodeCheckpoint, encodeCheckpoint, type PartitionCheckpoint } from '../checkpoint/checkpoint-file.js';
import type { SinkPoint } from '../sink/index.js';
import type { TimeConfig, WindowSpec } from '../windowing/window-spec.js';
import { PartitionTask } from './partition-task.js';

/**
 * A partition's checkpoints written by main before sliding windows were kept in panes
 * (window operator snapshots in format 3; fixtures/make-v3-task-fixture.mjs, against
 * dd1294d): a full one and a delta on it, with tumbling 10 s, sliding 1 m / 10 s and
 * 25 s / 10 s windows and per-device event time. A task of this version restores the
 * chain, replays the log from the delta's offset and must write the points main wrote:
 * the same series and times in the same order, counts, min, max, first, last, quantiles
 * and late readings bit for bit, sum, mean and stddev within 1e-12 of the values' scale;
 * also when its first checkpoint after the restore is a delta on main's chain (as it is
 * with checkpoint.fullEvery > 1) and it restores from the three.
 */
interface Fixture {
  time: TimeConfig;
  windows: WindowSpec[];
  fields: string[];
  records: string[];
  checkpoints: string[];
  points: (string | number | null)[][];
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/v3-task.json', import.meta.url), 'utf8')) as Fixture;
const payloads = withResendsDropped(fixture.records.map((r) => new Uint8Array(Buffer.from(r, 'base64'))));

/**
 * The fixture's generator "re-sends" a device's last seq with new readings (5 % of
 * messages). Main dropped every such message as a duplicate; this version takes one whose
 * readings are all newer than any of its device's as new data (a device that restarted
 * its seqs, processors/dedup.ts). So they are flagged dropped here, as the gateway flags a
 * message it refuses: a task skips them as main's de-duplication did, and main's points
 * stay the expectation for everything else.
 */
function withResendsDropped(records: Uint8Array[]): Uint8Array[] {
  const last = new Map<string, number>();
  return records.map((record) => {
    const b = decodeLogRecord(record);
    let bytes: Uint8Array | undefined;
    for (let m = 0; m < b.msgDevice.length; m++) {
      const device = b.strings[b.msgDevice[m]!]!;
      const seq = b.msgSeq[m]!;
      if (last.get(device) === seq) {
        bytes ??= uncompressBatch(record);
        bytes[msgFlagsOffset(bytes) + m] = MSG_FLAG_DROPPED;
      }
      last.set(device, seq);
    }
    return bytes === undefined ? record : compressBatch(bytes);
  });
}

const log: Log = {
  partitions: 1,
  append: () => Promise.reject(new Error('read-only')),
  read: (_p: number, from: number, max = 100): Promise<LogRecord[]> => Promise.resolve(payloads.slice(from, from + max).map((payload, i) => ({ offset: from + i, payload }))),
  trim: () => Promise.resolve(),
  startOffset: () => Promise.resolve(0),
  pending: (_p: number, from: number) => Promise.resolve(Math.max(0, payloads.length - from)),
  close: () => Promise.resolve(),
};

function compact(p: SinkPoint): (string | number | null)[] {
  const tags = Object.entries(p.tags)
    .sort()
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return [p.measurement, tags, p.timeMs, ...fixture.fields.map((f) => {
    const v = p.fields[f];
    // JSON has no −0 (a reading of −0 is in the log): the fixture says 0.
    return v === undefined ? null : typeof v === 'object' ? (v as { int: number }).int : (v as number) + 0;
  })];
}

const ROUNDED = new Set(['sum', 'mean', 'stddev']);

function expectSamePoints(got: SinkPoint[], want: Fixture['points']): void {
  const rows = got.map(compact);
  const keep = (row: (string | number | null)[]): unknown[] => row.filter((_, i) => i < 3 || !ROUNDED.has(fixture.fields[i - 3]!));
  expect(rows.map(keep)).toEqual(want.map(keep));
  rows.forEach((row, r) => {
    const w = want[r]!;
    const at = (f: string): number => 3 + fixture.fields.indexOf(f);
    const scale = Math.max(Math.abs((w[at('min')] as number | null) ?? 0), Math.abs((w[at('max')] as number | null) ?? 0));
    for (const f of ROUNDED) {
      const a = row[at(f)] as number | null;
      const b = w[at(f)] as number | null;
      if (a === null || b === null) expect(a).toBe(b);
      else expect(Math.abs(a - b), `${f} of ${row.slice(0, 3).join(' ')}`).toBeLessThanOrEqual(1e-12 * Math.max(scale, Math.abs(b)));
    }
  });
}

async function restored(chain: PartitionCheckpoint[], out: SinkPoint[]): Promise<PartitionTask> {
  const task = new PartitionTask({ partition: 0, log, windows: fixture.windows, time: fixture.time, raw: false, emit: (p) => out.push(p) });
  task.restore(chain);
  return task;
}

describe("PartitionTask: restoring main's checkpoints from before panes", () => {
  it('replays to the points main wrote', async () => {
    const chain = await Promise.all(fixture.checkpoints.map((c, i) => decodeCheckpoint(Buffer.from(c, 'base64'), `fixture ${i}`)));
    expect(chain.map((c) => c.kind)).toEqual(['full', 'delta']);
    const out: SinkPoint[] = [];
    const task = await restored(chain, out);
    while (await task.step(5));
    expectSamePoints(out, fixture.points);
    expect(fixture.points.some((p) => p[0] === 'late_readings')).toBe(true);
  });

  it('takes a delta of its own on that chain and restores from the three', async () => {
    const chain = await Promise.all(fixture.checkpoints.map((c, i) => decodeCheckpoint(Buffer.from(c, 'base64'), `fixture ${i}`)));
    const out: SinkPoint[] = [];
    const task = await restored(chain, out);
    for (let i = 0; i < 4; i++) await task.step(5);
    const own = await task.snapshot(3, { fullEvery: 10 });
    expect(own.kind).toBe('delta');
    const emitted = out.length;
    const again = await restored([...chain, await decodeCheckpoint(await encodeCheckpoint(own), 'own delta')], out);
    while (await again.step(5));
    expectSamePoints(out, fixture.points);
    expect(emitted).toBeGreaterThan(0);
  });
});
