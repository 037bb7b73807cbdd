/** The InfluxDB sink against a real influxd 1.6: exact values, upserts, type conflicts, outages. */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InfluxSink, InfluxWriter, influxConfigSchema, SinkRejectedError, type InfluxWriterOptions, type SinkPoint } from '../processors/sink/index.js';
import { startInfluxd, type TestInfluxd } from './harness/influxdb.js';

let influx: TestInfluxd;
const writers: InfluxWriter[] = [];

beforeAll(async () => {
  influx = await startInfluxd();
});
afterEach(() => {
  for (const writer of writers.splice(0)) writer.close();
});
afterAll(async () => {
  await influx?.destroy();
});

/** A writer on its own fresh database (unique per test, so tests could share the server in parallel). */
async function setup(options: Partial<InfluxWriterOptions> = {}, config: Record<string, unknown> = {}) {
  const database = `t_${randomUUID().replace(/-/g, '')}`;
  const badPoints: [string, string][] = [];
  const parsed = influxConfigSchema.parse({ url: influx.url, database, maxRetryDelay: '200ms', ...config });
  const writer = new InfluxWriter(parsed, { onBadPoint: (line, message) => badPoints.push([line, message]), minRetryDelay: 20, ...options });
  writers.push(writer);
  const sink = new InfluxSink({ writer, batchSize: parsed.batchSize, flushInterval: parsed.flushInterval });
  return { database, writer, sink, badPoints };
}

const WINDOW_FIELDS = ['count', 'sum', 'min', 'max', 'mean', 'first', 'last', 'stddev', 'p50', 'p90', 'p99'] as const;

/** A window aggregate as the processor writes it; `seed` varies every value, including awkward floats. */
function windowPoint(device: string, metric: string, startMs: number, seed: number): SinkPoint {
  const values = [0.1 + 0.2, -3.5, 1e21, 1.5e-7, 20.125, 7, -0.001, 123456.789, 42, 1 / 3].map((v) => v * seed);
  const fields: SinkPoint['fields'] = { count: { int: 10 * seed } };
  WINDOW_FIELDS.slice(1).forEach((name, i) => (fields[name] = values[i]!));
  return { measurement: 'telemetry_10s', tags: { device, metric, site: 'north yard' }, fields, timeMs: startMs };
}

/** What a point should read back as: its time, tags and plain field values. */
function expectedRow(point: SinkPoint): Record<string, unknown> {
  const fields = Object.fromEntries(Object.entries(point.fields).map(([k, v]) => [k, typeof v === 'object' ? v.int : v]));
  return { time: point.timeMs, ...point.tags, ...fields };
}

const byMetricThenTime = (a: Record<string, unknown>, b: Record<string, unknown>) =>
  String(a.metric).localeCompare(String(b.metric)) || Number(a.time) - Number(b.time);

describe('InfluxSink on influxd 1.6', () => {
  it('writes window points that read back exactly, count as an integer field', async () => {
    const { database, writer, sink } = await setup();
    await writer.ensureDatabase();
    const points = [
      windowPoint('d1', 'temp', 1_700_000_000_000, 1),
      windowPoint('d1', 'temp', 1_700_000_010_000, 2),
      windowPoint('d1', 'humidity', 1_700_000_000_000, 3),
      windowPoint('d2', 'temp', 1_700_000_000_000, 4),
    ];
    for (const point of points) sink.add(point);
    await sink.flush();
    expect(sink.size).toBe(0);
    const rows = await influx.query(`SELECT * FROM telemetry_10s WHERE device='d1'`, database);
    expect(rows.sort(byMetricThenTime)).toEqual([points[2], points[0], points[1]].map(expectedRow));
    const types = await influx.query('SHOW FIELD KEYS FROM telemetry_10s', database);
    expect(Object.fromEntries(types.map((r) => [r.fieldKey, r.fieldType]))).toEqual(
      Object.fromEntries(WINDOW_FIELDS.map((f) => [f, f === 'count' ? 'integer' : 'float'])),
    );
  });

  it('overwrites a point written again with the same series and time instead of adding one', async () => {
    const { database, writer, sink } = await setup();
    await writer.ensureDatabase();
    const first = [windowPoint('d1', 'temp', 1_700_000_000_000, 1), windowPoint('d1', 'temp', 1_700_000_010_000, 2)];
    for (const point of first) sink.add(point);
    await sink.flush();
    // A late reading re-fires both windows with corrected aggregates: same series, same start.
    const corrected = [windowPoint('d1', 'temp', 1_700_000_000_000, 5), windowPoint('d1', 'temp', 1_700_000_010_000, 6)];
    for (const point of corrected) sink.add(point);
    await sink.flush();
    expect(await influx.query(`SELECT COUNT("count") FROM telemetry_10s WHERE device='d1'`, database)).toEqual([{ time: 0, count: 2 }]);
    expect(await influx.query(`SELECT * FROM telemetry_10s WHERE device='d1'`, database)).toEqual(corrected.map(expectedRow));
  });

  it('keeps raw readings as float, boolean and string fields', async () => {
    // InfluxDB fixes a field's type per measurement and shard, so one `readings.value` field
    // cannot hold all three types at once: each type gets its own database here.
    const values = [21.5, true, 'door open, "back" \\ side'] as const;
    for (const value of values) {
      const { database, writer, sink } = await setup();
      await writer.ensureDatabase();
      const point = { measurement: 'readings', tags: { device: 'd1', metric: 'm' }, fields: { value }, timeMs: 1_700_000_000_123 };
      sink.add(point);
      await sink.flush();
      expect(await influx.query('SELECT * FROM readings', database)).toEqual([expectedRow(point)]);
      const [type] = await influx.query('SHOW FIELD KEYS FROM readings', database);
      expect(type!.fieldType).toBe({ number: 'float', boolean: 'boolean', string: 'string' }[typeof value as string]);
    }
  });

  it('a field type conflict in a batch: InfluxDB keeps the good points, the bad one is reported with its reason, in one request', async () => {
    let requests = 0;
    const { database, writer, sink, badPoints } = await setup({ onRequest: () => requests++ });
    await writer.ensureDatabase();
    sink.add(windowPoint('d1', 'temp', 1_700_000_000_000, 1));
    await sink.flush();
    const batch = Array.from({ length: 9 }, (_, i) => windowPoint('d1', 'temp', 1_700_000_010_000 + i * 10_000, i + 2));
    // count sent as a float into the existing integer field: InfluxDB answers 400.
    batch[6] = { ...batch[6]!, fields: { ...batch[6]!.fields, count: 80 } };
    for (const point of batch) sink.add(point);
    requests = 0;
    await sink.flush();
    expect(requests).toBe(1); // no bisection: 1.x stored the good lines of the partial write
    expect(badPoints).toEqual([['(1 of 9 lines in one write)', expect.stringMatching(/^partial write: field type conflict: input field "count" .* dropped=1$/)]]);
    const rows = await influx.query(`SELECT "count" FROM telemetry_10s WHERE device='d1'`, database);
    expect(rows.map((r) => r.time)).toEqual([0, 1, 2, 3, 4, 5, 6, 8, 9].map((i) => 1_700_000_000_000 + i * 10_000));
  });

  it('holds a flush while influxd is down and completes it, losing nothing, once it is back', async () => {
    let retriedTwice!: () => void;
    const twice = new Promise<void>((resolve) => (retriedTwice = resolve));
    let sent = 0;
    let retried = 0;
    let answered = 0;
    const { database, writer, sink } = await setup({
      onRetry: (err, attempt) => ++retried >= 2 && err.code === 'SLUICE_SINK_UNAVAILABLE' && attempt >= 2 && retriedTwice(),
      onRequestStart: () => sent++,
      onRequest: () => answered++,
    });
    await writer.ensureDatabase();
    const points = Array.from({ length: 20 }, (_, i) => windowPoint(`d${i % 4}`, 'temp', 1_700_000_000_000 + i * 10_000, i + 1));
    for (const point of points) sink.add(point);
    await influx.stop();
    let flushed = false;
    const flush = sink.flush().then(() => (flushed = true));
    await twice;
    expect(flushed).toBe(false);
    expect(sink.size).toBe(points.length);
    await influx.start();
    await flush;
    expect(sink.size).toBe(0);
    const rows = await influx.query('SELECT * FROM telemetry_10s', database);
    expect(rows.sort((a, b) => Number(a.time) - Number(b.time))).toEqual(points.map(expectedRow));
    // Every request is announced as it is sent, each retry too (the last-sent metric).
    expect(answered).toBeGreaterThan(0);
    expect(sent).toBe(retried + answered);
  });

  it('distributed mode: a retry due while the write gate is closed is not sent; once it opens, only the partitions still held are written', async () => {
    // A processor frozen (or cut off from NATS) past its leases while a write waits out its
    // backoff: when it runs again, the retry must not go out before the lease renewal has
    // said which partitions it lost, or its old points would land after their new owner's.
    let open = true;
    let opened!: () => void;
    const gate = { isOpen: () => open, whenOpen: () => new Promise<void>((resolve) => (opened = resolve)) };
    const events: string[] = [];
    // Settles at the first of: the flush held by the gate (right), a request sent while closed (wrong).
    let settle!: () => void;
    const held = new Promise<void>((resolve) => (settle = resolve));
    const database = `t_${randomUUID().replace(/-/g, '')}`;
    const parsed = influxConfigSchema.parse({ url: influx.url, database, maxRetryDelay: '200ms' });
    const writer = new InfluxWriter(parsed, {
      onBadPoint: () => {},
      minRetryDelay: 20,
      gate,
      onRequestStart: () => {
        events.push(open ? 'sent' : 'sent while closed');
        if (!open) settle();
      },
      // The first failure: the leases go stale while the retry waits.
      onRetry: () => {
        events.push('retry scheduled');
        open = false;
      },
    });
    writers.push(writer);
    const sink = new InfluxSink({ writer, batchSize: 100, flushInterval: 1000, gate, onGateClosed: () => (events.push('held'), settle()) });
    await writer.ensureDatabase();
    events.length = 0; // its SHOW and CREATE DATABASE
    const lost = windowPoint('d-lost', 'temp', 1_700_000_000_000, 1);
    const kept = windowPoint('d-kept', 'temp', 1_700_000_000_000, 2);
    sink.add(lost, 0);
    sink.add(kept, 1);
    await influx.stop();
    const flush = sink.flush();
    await held;
    // The retry met the closed gate: not sent, its points back in the buffer, the flush waiting.
    expect(events).toEqual(['sent', 'retry scheduled', 'held']);
    expect(sink.size).toBe(2);
    // The renewal finds partition 0 taken by another processor; 1 is still ours.
    sink.discard(0);
    await influx.start();
    open = true;
    opened();
    await flush;
    expect(events).toEqual(['sent', 'retry scheduled', 'held', 'sent']);
    const rows = await influx.query('SELECT * FROM telemetry_10s', database);
    expect(rows).toEqual([expectedRow(kept)]);
  });

  it('influx.contentEncoding gzip: influxd stores the gzipped points exactly', async () => {
    const { database, writer, sink } = await setup({}, { contentEncoding: 'gzip' });
    await writer.ensureDatabase();
    const points = Array.from({ length: 50 }, (_, i) => windowPoint(`d${i % 5}`, 'temp', 1_700_000_000_000 + Math.floor(i / 5) * 10_000, i + 1));
    for (const point of points) sink.add(point);
    await sink.flush();
    const rows = await influx.query('SELECT * FROM telemetry_10s', database);
    const order = (a: Record<string, unknown>, b: Record<string, unknown>) => Number(a.time) - Number(b.time) || String(a.device).localeCompare(String(b.device));
    expect(rows.sort(order)).toEqual(points.map(expectedRow).sort(order));
  });

  it('refuses to write to a database that does not exist (404) and keeps the points until it does', async () => {
    const { database, writer, sink } = await setup();
    sink.add(windowPoint('d1', 'temp', 1_700_000_000_000, 1));
    const err = await sink.flush().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SinkRejectedError);
    expect(err).toMatchObject({ code: 'SLUICE_SINK_REJECTED', canRetry: false, status: 404 });
    expect((err as Error).message).toContain(`database ${database} does not exist: create it with \`CREATE DATABASE ${database}\` or set influx.database`);
    expect(sink.size).toBe(1);
    await writer.ensureDatabase();
    await sink.flush();
    expect(await influx.query('SELECT COUNT("count") FROM telemetry_10s', database)).toEqual([{ time: 0, count: 1 }]);
  });

  it('writes 100k points in batches of 5000 (measured)', async () => {
    const { database, writer, sink } = await setup();
    await writer.ensureDatabase();
    const total = 100_000;
    const started = performance.now();
    for (let i = 0; i < total; i++) sink.add(windowPoint(`d${i % 1000}`, 'temp', 1_700_000_000_000 + Math.floor(i / 1000) * 10_000, (i % 7) + 1));
    const added = performance.now();
    await sink.flush();
    const done = performance.now();
    console.log(`influx sink: ${total} points, add ${(added - started).toFixed(0)} ms, flush ${(done - added).toFixed(0)} ms, ` +
      `${Math.round(total / ((done - started) / 1000))} points/s end to end, ${Math.round(total / ((done - added) / 1000))} points/s written`);
    expect(await influx.query('SELECT COUNT("count") FROM telemetry_10s', database)).toEqual([{ time: 0, count: total }]);
  });
});
