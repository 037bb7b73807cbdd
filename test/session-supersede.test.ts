/**
 * Session windows that merge or move after they were written: the stale points are deleted
 * from a real influxd 1.6, so InfluxDB ends with exactly the sessions a clean run writes.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FileLog } from '../log/index.js';
import { ColumnarBatchBuilder, compressBatch } from '../proto/index.js';
import { InfluxSink, InfluxWriter, influxConfigSchema, type SinkPoint, type SinkPointId } from '../processors/sink/index.js';
import { PartitionTask } from '../processors/task/partition-task.js';
import type { WindowSpec } from '../processors/windowing/window-spec.js';
import { startInfluxd, type InfluxRow, type TestInfluxd } from './harness/influxdb.js';
import { tempDir } from './harness/temp-dir.js';

let influx: TestInfluxd;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  influx = await startInfluxd();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await influx?.destroy();
});

/** A sink on its own fresh database, with the writer's delete outcomes recorded. */
async function setup() {
  const database = `t_${randomUUID().replace(/-/g, '')}`;
  const parsed = influxConfigSchema.parse({ url: influx.url, database, maxRetryDelay: '200ms' });
  const outcome = { deleted: 0, bad: [] as [string, string][] };
  const writer = new InfluxWriter(parsed, {
    onBadPoint: (line, message) => outcome.bad.push([line, message]),
    onDeleted: (n) => (outcome.deleted += n),
    onBadDelete: (what, message) => outcome.bad.push([what, message]),
    minRetryDelay: 20,
  });
  cleanups.push(() => writer.close());
  await writer.ensureDatabase();
  const sink = new InfluxSink({ writer, batchSize: parsed.batchSize, flushInterval: parsed.flushInterval });
  return { database, sink, outcome };
}

const T = 1_700_000_000_000;
/** Tags that need every kind of quoting in InfluxQL and in line protocol. */
const AWKWARD = { device: `o'brien "d1"`, metric: 'temp, inside', site: 'north yard=a\\b' };

function session(tags: Record<string, string>, startMs: number, count: number): SinkPoint {
  return { measurement: 'sessions', tags, fields: { count: { int: count }, sum: count * 1.5 }, timeMs: startMs };
}
const at = (point: SinkPoint): SinkPointId => ({ measurement: point.measurement, tags: point.tags, timeMs: point.timeMs });

const byDeviceProbeTime = (a: InfluxRow, b: InfluxRow) =>
  String(a.device).localeCompare(String(b.device)) || String(a.probe).localeCompare(String(b.probe)) || Number(a.time) - Number(b.time);

/** Every point of `sessions`, tags included (an absent one as ''), by device, probe, time. */
async function sessionRows(database: string): Promise<InfluxRow[]> {
  return (await influx.query('SELECT * FROM sessions GROUP BY *', database)).sort(byDeviceProbeTime);
}

describe('superseded session points on influxd 1.6', () => {
  it('deletes both written sessions a merged one supersedes, and nothing else at those times', async () => {
    const { database, sink, outcome } = await setup();
    const first = session(AWKWARD, T, 2);
    const second = session(AWKWARD, T + 10_000, 3);
    // Same device and metric with one more tag, and another device: both have points at the superseded times.
    const probe = session({ ...AWKWARD, probe: '2' }, T + 10_000, 7);
    const other = session({ ...AWKWARD, device: 'd2' }, T, 9);
    for (const point of [first, second, probe, other]) sink.add(point);
    await sink.flush();

    // A late reading before `first` within the gap that also bridges to `second`: one session, starting earlier.
    const merged = session(AWKWARD, T - 4_000, 6);
    sink.add(merged);
    sink.delete(at(first));
    sink.delete(at(second));
    await sink.flush();

    const rows = await sessionRows(database);
    expect(rows).toEqual(
      [merged, probe, other]
        .map((p) => ({ time: p.timeMs, probe: '', ...p.tags, count: (p.fields.count as { int: number }).int, sum: p.fields.sum }))
        .sort(byDeviceProbeTime),
    );
    expect(outcome).toEqual({ deleted: 2, bad: [] });
  });

  it('deletes a point whose write is still in the buffer, and one an earlier run wrote, in the same flush', async () => {
    const { database, sink } = await setup();
    // What a run before a crash wrote: the replay adds it again below, then supersedes it.
    sink.add(session(AWKWARD, T + 10_000, 3));
    await sink.flush();
    sink.add(session(AWKWARD, T, 2));
    sink.add(session(AWKWARD, T + 10_000, 3));
    sink.add(session(AWKWARD, T - 4_000, 6));
    sink.delete(at(session(AWKWARD, T, 2)));
    sink.delete(at(session(AWKWARD, T + 10_000, 3)));
    await sink.flush();
    expect((await sessionRows(database)).map((r) => [r.time, r.count])).toEqual([[T - 4_000, 6]]);
  });

  it('a late reading bridging two fired sessions: the task emits the merged point and deletes, and InfluxDB ends as after a clean run', async () => {
    const SESSION: WindowSpec = { name: 'sessions', type: 'session', gap: 5_000 };
    const time = { maxOutOfOrderness: 0, idleTimeout: 3_600_000, allowedLateness: 60_000, maxBackfill: 1e15 };
    const deviceTags = `site=o'brien "yard"\\, a\\\\b`; // canonical form: site = o'brien "yard", a\b
    const dir = await tempDir('sluice-supersede-');
    cleanups.push(() => dir.remove());
    const log = await FileLog.open({ dir: dir.path, partitions: 1 });
    cleanups.push(() => log.close());
    const batch = (readings: [device: string, time: number, tags?: string, metric?: string][]) => {
      const b = new ColumnarBatchBuilder(0, T);
      for (const [device, t, tags, metric] of readings) {
        b.beginMessage(b.intern(device), b.intern(device === 'd1' ? deviceTags : ''), 0);
        b.addNumeric(b.intern(metric ?? 'temp'), b.intern(tags ?? ''), t, 1);
      }
      return compressBatch(b.encode());
    };
    const readings = {
      // Two sessions of d1/temp, [T, T+5 001) and [T+10 000, T+15 001), and one of d1/temp{probe=2} at T+10 000.
      first: batch([['d1', T], ['d1', T + 10_000], ['d1', T + 10_000, 'probe=2']]),
      // Another metric of d1 moves d1's clock to T+20 000 (event time is per device): the three sessions fire.
      later: batch([['d1', T + 20_000, '', 'other']]),
      // Late, within allowedLateness: T−4 000 moves the first session earlier, T+5 000 bridges it to the second.
      late: batch([['d1', T - 4_000], ['d1', T + 5_000]]),
    };

    /** Runs a fresh task over the log into `sink`, flushing after each record as checkpoints would. */
    async function run(sink: InfluxSink) {
      const emitted: string[] = [];
      const task = new PartitionTask({
        partition: 0,
        log,
        windows: [SESSION],
        time,
        raw: false,
        emit: (point) => {
          emitted.push(`write ${point.tags.device}${point.tags.probe ? '/probe' : ''} ${point.timeMs - T}`);
          sink.add(point);
        },
        emitDelete: (point) => {
          emitted.push(`delete ${point.tags.device}${point.tags.probe ? '/probe' : ''} ${point.timeMs - T}`);
          sink.delete(point);
        },
      });
      task.startFresh();
      while (await task.step(1)) await sink.flush();
      return emitted;
    }

    for (const record of [readings.first, readings.later, readings.late]) await log.append(0, record);
    const { database, sink, outcome } = await setup();
    expect(await run(sink)).toEqual([
      'write d1 0',
      'write d1 10000',
      'write d1/probe 10000',
      'write d1 -4000',
      'delete d1 0',
      'delete d1 10000',
    ]);
    expect(outcome).toEqual({ deleted: 2, bad: [] });
    const rows = await sessionRows(database);
    expect(rows.map((r) => [r.device, r.probe, r.time, r.count])).toEqual([
      ['d1', '', T - 4_000, 4],
      ['d1', '2', T + 10_000, 1],
    ]);
    expect(rows[0]!.site).toBe(`o'brien "yard", a\\b`);

    // A replay after a crash (no checkpoint: from the start) writes and deletes again: same end state.
    await run(sink);
    expect(await sessionRows(database)).toEqual(rows);

    // A clean run: every reading on time, in one batch.
    const cleanLog = await FileLog.open({ dir: `${dir.path}/clean`, partitions: 1 });
    cleanups.push(() => cleanLog.close());
    await cleanLog.append(0, batch([['d1', T - 4_000], ['d1', T], ['d1', T + 5_000], ['d1', T + 10_000], ['d1', T + 10_000, 'probe=2'], ['d1', T + 20_000, '', 'other']]));
    const clean = await setup();
    const task = new PartitionTask({ partition: 0, log: cleanLog, windows: [SESSION], time, raw: false, emit: (p) => clean.sink.add(p), emitDelete: (p) => clean.sink.delete(p) });
    task.startFresh();
    while (await task.step(1)) await clean.sink.flush();
    expect(await sessionRows(clean.database)).toEqual(rows);
  });
});
