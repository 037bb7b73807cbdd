/** Status records (MSG_FLAG_STATUS) in a partition's log: written to device_status, and to nothing else, exactly as a replay writes them again. */
import { describe, expect, it } from 'vitest';
import { ColumnarBatchBuilder, compressBatch, MSG_FLAG_STATUS, TEXT_KIND_BOOL } from '../../proto/index.js';
import type { SinkPoint } from '../sink/index.js';
import { SequencedLog } from '../testing/sequenced-log.js';
import { PartitionTask } from './partition-task.js';

const T0 = 1_700_000_000_000;
const TIME = { maxOutOfOrderness: 1_000, idleTimeout: 1e12, allowedLateness: 0, maxBackfill: 1e15 };
const WINDOWS = [{ name: 'w5s', type: 'tumbling' as const, size: 5_000 }];

type Entry = { reading: [device: string, time: number, value: number] } | { status: [device: string, event: string, online: boolean, time: number, tags: string] };

/** One record: readings (seq 0, metric t) and status records, in this order. */
function record(entries: Entry[]): Uint8Array {
  const b = new ColumnarBatchBuilder(0, T0);
  for (const e of entries) {
    if ('reading' in e) {
      const [device, time, value] = e.reading;
      b.beginMessage(b.intern(device), 0, 0);
      b.addNumeric(b.intern('t'), 0, time, value);
    } else {
      const [device, event, online, time, tags] = e.status;
      b.beginMessage(b.intern(device), b.intern('site=oslo'), 0);
      b.addText(b.intern(event), b.intern(tags), time, TEXT_KIND_BOOL, online ? 1 : 0);
      b.flagMessage(MSG_FLAG_STATUS);
    }
  }
  return compressBatch(b.encode());
}

const NODE_TAGS = 'edge=e1,group=g,kind=node';
const DEVICE_TAGS = 'edge=e1,group=g,kind=device';

async function logOf(): Promise<SequencedLog> {
  const log = new SequencedLog(1);
  await log.append(0, record([{ status: ['g:e1', 'NBIRTH', true, T0, NODE_TAGS] }, { status: ['g:e1:d1', 'DBIRTH', true, T0 + 1, DEVICE_TAGS] }, { reading: ['g:e1:d1', T0 + 10, 1] }]));
  await log.append(0, record([{ reading: ['g:e1:d1', T0 + 20, 2] }, { status: ['g:e1', 'NDEATH', false, T0 + 30, NODE_TAGS] }, { status: ['g:e1:d1', 'NDEATH', false, T0 + 30, DEVICE_TAGS] }]));
  await log.append(0, record([{ reading: ['g:e1:d1', T0 + 9_000, 3] }])); // closes the first window
  return log;
}

function task(log: SequencedLog, points: SinkPoint[], raw = false): PartitionTask {
  return new PartitionTask({ partition: 0, log, windows: WINDOWS, time: TIME, raw, emit: (p) => points.push(p) });
}

describe('PartitionTask: status records', () => {
  it('writes each as a device_status point (tags device, its own and the registry\'s; online 1|0, event) and leaves windows and raw readings alone', async () => {
    const points: SinkPoint[] = [];
    const t = task(await logOf(), points, true);
    await t.startFresh();
    while (await t.step(10));
    const status = points.filter((p) => p.measurement === 'device_status');
    expect(status).toEqual([
      { measurement: 'device_status', tags: { device: 'g:e1', group: 'g', edge: 'e1', kind: 'node', site: 'oslo' }, fields: { online: { int: 1 }, event: 'NBIRTH' }, timeMs: T0 },
      { measurement: 'device_status', tags: { device: 'g:e1:d1', group: 'g', edge: 'e1', kind: 'device', site: 'oslo' }, fields: { online: { int: 1 }, event: 'DBIRTH' }, timeMs: T0 + 1 },
      { measurement: 'device_status', tags: { device: 'g:e1', group: 'g', edge: 'e1', kind: 'node', site: 'oslo' }, fields: { online: { int: 0 }, event: 'NDEATH' }, timeMs: T0 + 30 },
      { measurement: 'device_status', tags: { device: 'g:e1:d1', group: 'g', edge: 'e1', kind: 'device', site: 'oslo' }, fields: { online: { int: 0 }, event: 'NDEATH' }, timeMs: T0 + 30 },
    ]);
    // Windows and raw readings see the readings only: no NBIRTH metric, no bool readings.
    const window = points.filter((p) => p.measurement === 'w5s');
    expect(window.map((p) => [p.tags.device, p.tags.metric, p.fields.count, p.fields.sum])).toEqual([['g:e1:d1', 't', { int: 2 }, 3]]);
    expect(points.filter((p) => p.measurement === 'readings').map((p) => p.fields)).toEqual([{ value: 1 }, { value: 2 }, { value: 3 }]);
    expect(t.stats).toMatchObject({ messages: 7, duplicates: 0, statuses: 4 });
  });

  it('writes the same points again on a replay from a checkpoint taken before them', async () => {
    const log = await logOf();
    const first: SinkPoint[] = [];
    const a = task(log, first);
    await a.startFresh();
    await a.step(1);
    const checkpoint = await a.snapshot(1);
    while (await a.step(10));
    const replayed: SinkPoint[] = [];
    const b = task(log, replayed);
    b.restore([checkpoint]);
    while (await b.step(10));
    const statusAfter = (points: SinkPoint[]) => points.filter((p) => p.measurement === 'device_status' && p.timeMs > T0 + 1);
    expect(statusAfter(replayed)).toEqual(statusAfter(first));
    expect(statusAfter(replayed)).toHaveLength(2);
  });
});
