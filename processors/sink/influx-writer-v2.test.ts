/**
 * The v2 write and delete paths against a capture server: InfluxDB 1.6 (the one in the
 * harness) has no /api/v2/write or /api/v2/delete, so a fake InfluxDB stands in for the real one.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { influxConfigSchema } from './config.js';
import { SinkClosedError, SinkRejectedError, SinkUnavailableError } from './errors.js';
import { InfluxWriter, type InfluxWriterOptions } from './influx-writer.js';
import { toLineProtocol } from './point.js';
import { startCaptureServer, type Captured, type CaptureServer } from './testing/capture-server.js';

let server: CaptureServer;
let url: string;
let captured: Captured[];
let writer: InfluxWriter | undefined;

beforeEach(async () => {
  server = await startCaptureServer();
  url = server.url;
  captured = server.captured;
});

afterEach(async () => {
  writer?.close();
  writer = undefined;
  await server.close();
});

function v2Writer(options: Partial<InfluxWriterOptions> = {}, config: Record<string, unknown> = {}): InfluxWriter {
  const parsed = influxConfigSchema.parse({ url, version: 2, bucket: 'tele metry', org: 'acme & co', token: 's3cr3t', ...config });
  writer = new InfluxWriter(parsed, { onBadPoint: () => {}, ...options });
  return writer;
}

const lines = (n: number) => Array.from({ length: n }, (_, i) => toLineProtocol({ measurement: 'm', tags: { device: `d${i}` }, fields: { count: { int: i } }, timeMs: 1000 + i }));
/** The lines of every request the server accepted, in arrival order. */
const written = () => captured.filter((c) => c.status === 204).flatMap((c) => c.body.split('\n'));

describe('InfluxWriter, InfluxDB 2.x', () => {
  it('POSTs to /api/v2/write with org, bucket, precision=ms, the token, and the exact line protocol', async () => {
    const point = { measurement: 'telemetry_10s', tags: { device: 'd 1', metric: 'temp' }, fields: { count: { int: 2 }, mean: 21.25 }, timeMs: 1_700_000_000_000 };
    await v2Writer().write([toLineProtocol(point), toLineProtocol({ ...point, timeMs: 1_700_000_010_000 })]);
    expect(captured).toHaveLength(1);
    const [req] = captured;
    expect(req!.path).toBe('/api/v2/write');
    expect(Object.fromEntries(req!.query)).toEqual({ org: 'acme & co', bucket: 'tele metry', precision: 'ms' });
    expect(req!.headers.authorization).toBe('Token s3cr3t');
    expect(req!.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(req!.body).toBe(
      'telemetry_10s,device=d\\ 1,metric=temp count=2i,mean=21.25 1700000000000\n' +
        'telemetry_10s,device=d\\ 1,metric=temp count=2i,mean=21.25 1700000010000',
    );
  });

  it('waits at least Retry-After before retrying a 429', async () => {
    server.respond = () => (captured.length === 1 ? { status: 429, headers: { 'retry-after': '1' }, body: '{"code":"too many requests","message":"slow down"}' } : { status: 204 });
    const retries: [number, number][] = [];
    await v2Writer({ onRetry: (_err, attempt, delay) => retries.push([attempt, delay]) }).write(lines(3));
    expect(captured).toHaveLength(2);
    expect(captured[1]!.at - captured[0]!.at).toBeGreaterThanOrEqual(900);
    expect(retries).toEqual([[1, 1000]]);
    expect(captured[1]!.body).toBe(captured[0]!.body);
  });

  it('splits a batch InfluxDB finds too large (413) until each part fits, keeping the order', async () => {
    server.respond = (req) => (req.body.split('\n').length > 2 ? { status: 413, body: '{"code":"request too large","message":"too big"}' } : { status: 204 });
    const batch = lines(7);
    await v2Writer().write(batch);
    expect(written()).toEqual(batch);
    expect(captured.map((c) => c.body.split('\n').length)).toEqual([7, 3, 1, 2, 4, 2, 2]);
  });

  it('bisects a 400 to find the bad points, writes every good one and hands over exactly the bad ones', async () => {
    const batch = lines(16);
    const bad = [batch[5]!, batch[11]!];
    server.respond = (req) => (bad.some((line) => req.body.includes(line))
      ? { status: 400, body: '{"code":"invalid","message":"failure writing points: field type conflict"}' }
      : { status: 204 });
    const badPoints: [string, string][] = [];
    await v2Writer({ onBadPoint: (line, message) => badPoints.push([line, message]) }).write(batch);
    expect(badPoints).toEqual(bad.map((line) => [line, 'failure writing points: field type conflict']));
    expect(written()).toEqual(batch.filter((line) => !bad.includes(line)));
    // log2(16) levels, two bad lines: far fewer than one request per line.
    expect(captured.length).toBeLessThan(16);
  });

  it('fails permanently on 401 and 404 with what to set, without retrying', async () => {
    server.respond = () => ({ status: 401, body: '{"code":"unauthorized","message":"unauthorized access"}' });
    const denied = await v2Writer().write(lines(1)).catch((err: unknown) => err);
    expect(denied).toBeInstanceOf(SinkRejectedError);
    expect(denied).toMatchObject({ code: 'SLUICE_SINK_REJECTED', canRetry: false, status: 401 });
    expect((denied as Error).message).toMatch(/unauthorized access.*set influx\.token/);
    server.respond = () => ({ status: 404, body: '{"code":"not found","message":"bucket \\"tele metry\\" not found"}' });
    const missing = await writer!.write(lines(1)).catch((err: unknown) => err);
    expect((missing as Error).message).toMatch(/bucket tele metry in org acme & co not found.*influx bucket create --name tele metry --org acme & co/);
    expect(captured).toHaveLength(2);
  });

  it('with onRefusal, waits out a 403 (reported once, then cleared) and writes the batch once InfluxDB takes it', async () => {
    server.respond = () => (captured.length <= 3 ? { status: 403, body: '{"code":"forbidden","message":"insufficient permissions for write"}' } : { status: 204 });
    const reports: (string | undefined)[] = [];
    const batch = lines(3);
    await v2Writer({ minRetryDelay: 5, onRefusal: (err) => reports.push(err?.message) }, { maxRetryDelay: '20ms' }).write(batch);
    expect(captured).toHaveLength(4);
    expect(written()).toEqual(batch);
    expect(reports).toEqual([expect.stringMatching(/answered 403 \(insufficient permissions for write\): influx\.token may not write to bucket tele metry/), undefined]);
  });

  it('keeps at most maxInflightRequests requests in flight', async () => {
    let open = 0;
    let most = 0;
    server.respond = async () => {
      most = Math.max(most, ++open);
      await new Promise((resolve) => setTimeout(resolve, 20));
      open--;
      return { status: 204 };
    };
    const w = v2Writer({}, { maxInflightRequests: 2 });
    await Promise.all(Array.from({ length: 6 }, (_, i) => w.write(lines(i + 1))));
    expect(captured).toHaveLength(6);
    expect(most).toBe(2);
  });

  it('gives up after maxRetries with SLUICE_SINK_UNAVAILABLE, and close() stops an endless retry', async () => {
    server.respond = () => ({ status: 503, body: '{"code":"unavailable","message":"busy"}' });
    const limited = v2Writer({ minRetryDelay: 1 }, { maxRetries: 2 });
    const err = await limited.write(lines(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SinkUnavailableError);
    expect(err).toMatchObject({ code: 'SLUICE_SINK_UNAVAILABLE', canRetry: true, status: 503 });
    expect(captured).toHaveLength(3);
    limited.close();

    let retried!: () => void;
    const twice = new Promise<void>((resolve) => (retried = resolve));
    const endless = v2Writer({ minRetryDelay: 1, onRetry: (_e, attempt) => attempt >= 2 && retried() });
    const pending = endless.write(lines(1)).catch((e: unknown) => e);
    await twice;
    endless.close();
    expect(await pending).toBeInstanceOf(SinkClosedError);
  });
});

describe('InfluxWriter, InfluxDB 2.x deletes', () => {
  const stale = (device: string, timeMs: number) => ({ measurement: 'sessions', tags: { device, metric: 'temp', site: 'north yard' }, timeMs });

  it('POSTs one /api/v2/delete per point with org, bucket, the token, its millisecond and its series as the predicate', async () => {
    const deleted: number[] = [];
    await v2Writer({ onDeleted: (n) => deleted.push(n) }).delete([stale('d 1', 1_700_000_000_000), stale('d"2', 1_700_000_010_000)]);
    expect(captured).toHaveLength(2);
    const bodies = captured.map((req) => {
      expect(req.path).toBe('/api/v2/delete');
      expect(Object.fromEntries(req.query)).toEqual({ org: 'acme & co', bucket: 'tele metry' });
      expect(req.headers.authorization).toBe('Token s3cr3t');
      expect(req.headers['content-type']).toBe('application/json; charset=utf-8');
      return JSON.parse(req.body) as unknown;
    });
    expect(bodies).toContainEqual({
      start: '2023-11-14T22:13:20.000Z',
      stop: '2023-11-14T22:13:20.000999999Z',
      predicate: '"_measurement"="sessions" AND "device"="d 1" AND "metric"="temp" AND "site"="north yard"',
    });
    expect(bodies).toContainEqual({
      start: '2023-11-14T22:13:30.000Z',
      stop: '2023-11-14T22:13:30.000999999Z',
      predicate: '"_measurement"="sessions" AND "device"="d\\"2" AND "metric"="temp" AND "site"="north yard"',
    });
    expect(deleted).toEqual([1, 1]);
  });

  it('retries a 503 like a write, and hands a delete InfluxDB refuses (400) to onBadDelete without retrying it', async () => {
    server.respond = (req) => {
      if (captured.length === 1) return { status: 503, body: '{"code":"unavailable","message":"busy"}' };
      if ((JSON.parse(req.body) as { predicate: string }).predicate.includes('"device"="bad"')) return { status: 400, body: '{"code":"invalid","message":"invalid request; error parsing request json: bad tag value"}' };
      return { status: 204 };
    };
    const bad: [string, string][] = [];
    const deleted: number[] = [];
    const w = v2Writer({ minRetryDelay: 1, onDeleted: (n) => deleted.push(n), onBadDelete: (what, message) => bad.push([what, message]) }, { maxInflightRequests: 1 });
    await w.delete([stale('d1', 1_700_000_000_000), stale('bad', 1_700_000_000_000)]);
    // The slot is free while the 503 waits for its retry, so the other delete may go first.
    expect(captured.map((c) => c.status).sort()).toEqual([204, 400, 503]);
    expect(deleted).toEqual([1]);
    expect(bad).toHaveLength(1);
    expect(JSON.parse(bad[0]![0])).toMatchObject({ predicate: expect.stringContaining('"device"="bad"') });
    expect(bad[0]![1]).toBe('invalid request; error parsing request json: bad tag value');
  });

  it('without onBadDelete, reports a refused delete through onBadPoint', async () => {
    server.respond = () => ({ status: 400, body: '{"code":"invalid","message":"nope"}' });
    const bad: string[] = [];
    await v2Writer({ onBadPoint: (_what, message) => bad.push(message) }).delete([stale('d1', 0)]);
    expect(bad).toEqual(['nope']);
  });
});
