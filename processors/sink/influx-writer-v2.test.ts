/**
 * The v2 write path against a capture server: InfluxDB 1.6 (the one in the harness) has no
 * /api/v2/write, so this is the one place a fake InfluxDB stands in for the real one.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { influxConfigSchema } from './config.js';
import { SinkClosedError, SinkRejectedError, SinkUnavailableError } from './errors.js';
import { InfluxWriter, type InfluxWriterOptions } from './influx-writer.js';
import { toLineProtocol } from './point.js';

interface Captured {
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
  /** performance.now() when the body had arrived. */
  at: number;
  /** The status the server answered. */
  status?: number;
}
type Reply = { status: number; headers?: Record<string, string>; body?: string };

let server: Server;
let url: string;
let captured: Captured[];
let respond: (req: Captured) => Reply | Promise<Reply>;
let writer: InfluxWriter | undefined;

beforeEach(async () => {
  captured = [];
  respond = () => ({ status: 204 });
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const at = performance.now();
      const parsed = new URL(req.url!, 'http://x');
      const entry = { path: parsed.pathname, query: parsed.searchParams, headers: req.headers, body: Buffer.concat(chunks).toString(), at };
      captured.push(entry);
      const reply = await respond(entry);
      (entry as Captured).status = reply.status;
      res.writeHead(reply.status, { ...(reply.body ? { 'content-type': 'application/json' } : {}), ...reply.headers });
      res.end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  writer?.close();
  writer = undefined;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
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
    respond = () => (captured.length === 1 ? { status: 429, headers: { 'retry-after': '1' }, body: '{"code":"too many requests","message":"slow down"}' } : { status: 204 });
    const retries: [number, number][] = [];
    await v2Writer({ onRetry: (_err, attempt, delay) => retries.push([attempt, delay]) }).write(lines(3));
    expect(captured).toHaveLength(2);
    expect(captured[1]!.at - captured[0]!.at).toBeGreaterThanOrEqual(900);
    expect(retries).toEqual([[1, 1000]]);
    expect(captured[1]!.body).toBe(captured[0]!.body);
  });

  it('splits a batch InfluxDB finds too large (413) until each part fits, keeping the order', async () => {
    respond = (req) => (req.body.split('\n').length > 2 ? { status: 413, body: '{"code":"request too large","message":"too big"}' } : { status: 204 });
    const batch = lines(7);
    await v2Writer().write(batch);
    expect(written()).toEqual(batch);
    expect(captured.map((c) => c.body.split('\n').length)).toEqual([7, 3, 1, 2, 4, 2, 2]);
  });

  it('bisects a 400 to find the bad points, writes every good one and hands over exactly the bad ones', async () => {
    const batch = lines(16);
    const bad = [batch[5]!, batch[11]!];
    respond = (req) => (bad.some((line) => req.body.includes(line))
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
    respond = () => ({ status: 401, body: '{"code":"unauthorized","message":"unauthorized access"}' });
    const denied = await v2Writer().write(lines(1)).catch((err: unknown) => err);
    expect(denied).toBeInstanceOf(SinkRejectedError);
    expect(denied).toMatchObject({ code: 'SLUICE_SINK_REJECTED', canRetry: false, status: 401 });
    expect((denied as Error).message).toMatch(/unauthorized access.*set influx\.token/);
    respond = () => ({ status: 404, body: '{"code":"not found","message":"bucket \\"tele metry\\" not found"}' });
    const missing = await writer!.write(lines(1)).catch((err: unknown) => err);
    expect((missing as Error).message).toMatch(/bucket tele metry in org acme & co not found.*influx bucket create --name tele metry --org acme & co/);
    expect(captured).toHaveLength(2);
  });

  it('keeps at most maxInflightRequests requests in flight', async () => {
    let open = 0;
    let most = 0;
    respond = async () => {
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
    respond = () => ({ status: 503, body: '{"code":"unavailable","message":"busy"}' });
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
