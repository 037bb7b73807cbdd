/**
 * InfluxWriter.delete() on InfluxDB 1.x, request by request, against a capture server: it
 * answers what influxd 1.6 answers (checked by hand) in cases a real one cannot be made to
 * produce on cue. The same deletes against the real influxd: test/session-supersede.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { influxConfigSchema } from './config.js';
import { InfluxWriter } from './influx-writer.js';
import type { SinkPointId } from './point.js';
import { startCaptureServer, type Captured, type CaptureServer } from './testing/capture-server.js';

let server: CaptureServer;
let writer: InfluxWriter | undefined;
let deleted: number;
let bad: [string, string][];

beforeEach(async () => {
  server = await startCaptureServer();
  deleted = 0;
  bad = [];
});

afterEach(async () => {
  writer?.close();
  writer = undefined;
  await server.close();
});

function v1Writer(config: Record<string, unknown> = {}): InfluxWriter {
  const parsed = influxConfigSchema.parse({ url: server.url, database: 'tele"metry', username: 'sluice', password: 'pw', ...config });
  writer = new InfluxWriter(parsed, {
    onBadPoint: () => {
      throw new Error('bad deletes go to onBadDelete');
    },
    onDeleted: (n) => (deleted += n),
    onBadDelete: (what, message) => bad.push([what, message]),
    minRetryDelay: 1,
  });
  return writer;
}

const stale = (device: string, timeMs = 1_000): SinkPointId => ({ measurement: 'sessions', tags: { device, metric: 'temp' }, timeMs });
const q = (req: Captured) => new URLSearchParams(req.body).get('q')!;
const json = (body: unknown) => ({ status: 200, body: JSON.stringify(body) });
const tagKeys = json({ results: [{ statement_id: 0, series: [{ name: 'sessions', columns: ['tagKey'], values: [['device'], ['metric'], ['probe']] }] }] });
const deleteOf = (device: string, timeMs = 1_000) =>
  `DELETE FROM "sessions" WHERE "device"='${device}' AND "metric"='temp' AND "probe"='' AND time = ${timeMs * 1_000_000}`;

describe('InfluxWriter.delete, InfluxDB 1.x', () => {
  it('asks the tag keys, then sends the DELETE statements in one /query on the database, with the writer\'s credentials', async () => {
    server.respond = (req) => (q(req).startsWith('SHOW') ? tagKeys : json({ results: [{ statement_id: 0 }, { statement_id: 1 }] }));
    await v1Writer().delete([stale('a'), stale('b', 2_000)]);
    expect(server.captured.map(q)).toEqual(['SHOW TAG KEYS FROM "sessions"', `${deleteOf('a')};\n${deleteOf('b', 2_000)}`]);
    for (const req of server.captured) {
      expect(req.path).toBe('/query');
      expect(new URLSearchParams(req.body).get('db')).toBe('tele"metry');
      expect(req.headers.authorization).toBe(`Basic ${Buffer.from('sluice:pw').toString('base64')}`);
    }
    expect(deleted).toBe(2);
    expect(bad).toEqual([]);
  });

  it('asks the tag keys in the configured retention policy', async () => {
    server.respond = (req) => (q(req).startsWith('SHOW') ? tagKeys : json({ results: [{ statement_id: 0 }] }));
    await v1Writer({ retentionPolicy: 'one year' }).delete([stale('a')]);
    expect(q(server.captured[0]!)).toBe('SHOW TAG KEYS FROM "one year"."sessions"');
    expect(q(server.captured[1]!)).toBe(deleteOf('a'));
  });

  it('after a statement fails, runs it alone to learn why and sends the ones after it again', async () => {
    // 1.6 stops at the failed statement, calls it "not executed" and leaves out the rest.
    server.respond = (req) => {
      const text = q(req);
      if (text.startsWith('SHOW')) return tagKeys;
      if (text.includes(';')) return json({ results: [{ statement_id: 0 }, { statement_id: 1, error: 'not executed' }] });
      if (text.includes("'b'")) return json({ results: [{ statement_id: 0, error: 'shard 1: fields not supported in WHERE clause during deletion' }] });
      return json({ results: [{ statement_id: 0 }] });
    };
    await v1Writer().delete([stale('a'), stale('b'), stale('c')]);
    expect(server.captured.slice(1).map(q)).toEqual([[deleteOf('a'), deleteOf('b'), deleteOf('c')].join(';\n'), deleteOf('b'), deleteOf('c')]);
    expect(deleted).toBe(2);
    expect(bad).toEqual([[deleteOf('b'), 'shard 1: fields not supported in WHERE clause during deletion']]);
  });

  it('halves a request InfluxDB cannot parse (400) until the bad statement is alone, and retries a 503', async () => {
    server.respond = (req) => {
      const text = q(req);
      if (text.startsWith('SHOW')) return server.captured.length === 1 ? { status: 503, body: '{"error":"busy"}' } : tagKeys;
      if (text.includes("'x'")) return { status: 400, body: '{"error":"error parsing query: found EOF"}' };
      return json({ results: text.split(';\n').map((_s, i) => ({ statement_id: i })) });
    };
    await v1Writer().delete([stale('a'), stale('b'), stale('x'), stale('c')]);
    expect(server.captured.map((req) => q(req).split(';\n').length)).toEqual([1, 1, 4, 2, 2, 1, 1]);
    expect(deleted).toBe(3);
    expect(bad).toEqual([[deleteOf('x'), 'error parsing query: found EOF']]);
  });

  it('sends at most 100 statements a request', async () => {
    server.respond = (req) => (q(req).startsWith('SHOW') ? tagKeys : json({ results: q(req).split(';\n').map((_s, i) => ({ statement_id: i })) }));
    await v1Writer().delete(Array.from({ length: 250 }, (_, i) => stale(`d${i}`)));
    expect(server.captured.slice(1).map((req) => q(req).split(';\n').length)).toEqual([100, 100, 50]);
    expect(deleted).toBe(250);
  });

  it('deletes nothing when the user may not read the tag keys (403), says to GRANT READ, and does not retry', async () => {
    server.respond = () => ({ status: 403, body: '{"error":"error authorizing query: sluice not authorized to execute statement \'SHOW TAG KEYS\', requires READ on tele\\"metry"}' });
    await v1Writer().delete([stale('a'), stale('b')]);
    expect(server.captured).toHaveLength(1);
    expect(deleted).toBe(0);
    expect(bad).toHaveLength(2);
    expect(bad[0]![0]).toContain('"device":"a"');
    expect(bad[0]![1]).toMatch(/requires READ.*needs READ on database tele"metry: `GRANT READ ON "tele"metry" TO <user>`/);
  });

  it('refuses a point InfluxQL cannot name without sending it, and deletes the others', async () => {
    server.respond = (req) => (q(req).startsWith('SHOW') ? tagKeys : json({ results: [{ statement_id: 0 }] }));
    await v1Writer().delete([stale('nul\0'), stale('a')]);
    expect(server.captured.map(q)).toEqual(['SHOW TAG KEYS FROM "sessions"', deleteOf('a')]);
    expect(bad).toHaveLength(1);
    expect(bad[0]![1]).toMatch(/U\+0000/);
  });
});
