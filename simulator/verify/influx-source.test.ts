/** The InfluxQL source against a stand-in HTTP server: the request for v1 and v2, a streamed answer, errors. */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { influxConfigSchema } from '../../processors/sink/index.js';
import { InfluxPointSource, type StoredPoint } from './index.js';

interface Seen {
  headers: IncomingMessage['headers'];
  form: URLSearchParams;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
});

/** A server that records each /query request and answers with `chunks`, written one by one. */
async function stub(status: number, chunks: string[]): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', async () => {
      seen.push({ headers: req.headers, form: new URLSearchParams(body) });
      res.writeHead(status, { 'content-type': 'application/json' });
      for (const c of chunks) {
        res.write(c);
        await new Promise((resolve) => setImmediate(resolve));
      }
      res.end();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

async function collect(source: InfluxPointSource): Promise<StoredPoint[]> {
  const out: StoredPoint[] = [];
  for await (const batch of source.scan({ measurement: 'w10', devicePrefix: 'sim.1-', from: -5_000, to: 1_700_000_000_000 })) out.push(...batch);
  return out;
}

const series = (device: string, time: number) => ({ name: 'w10', tags: { device, metric: 'temp', site: '' }, columns: ['time', 'count', 'sum'], values: [[time, 3, 1.5]] });

describe('InfluxPointSource', () => {
  it('asks v1 with database, retention policy, basic auth and a streamed answer, and reads every chunk', async () => {
    const a = JSON.stringify({ results: [{ statement_id: 0, series: [series('sim.1-a', 0)], partial: true }] });
    const b = JSON.stringify({ results: [{ statement_id: 0, series: [series('sim.1-b', 10_000)] }] });
    // chunk boundaries inside an object, and two objects in one write
    const { url, seen } = await stub(200, [a.slice(0, 17), `${a.slice(17)}\n${b.slice(0, 40)}`, `${b.slice(40)}\n`]);
    const source = new InfluxPointSource(influxConfigSchema.parse({ url: `${url}/`, database: 'db1', retentionPolicy: 'weekly', username: 'u', password: 'p' }));
    expect(await collect(source)).toEqual([
      { measurement: 'w10', time: 0, tags: { device: 'sim.1-a', metric: 'temp', site: '' }, fields: { count: 3, sum: 1.5 } },
      { measurement: 'w10', time: 10_000, tags: { device: 'sim.1-b', metric: 'temp', site: '' }, fields: { count: 3, sum: 1.5 } },
    ]);
    const [req] = seen;
    expect(req!.headers.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(Object.fromEntries(req!.form)).toEqual({
      q: `SELECT * FROM "weekly"."w10" WHERE "device" =~ /^sim\\.1\\-/ AND time >= '1969-12-31T23:59:55.000Z' AND time <= '2023-11-14T22:13:20.000Z' GROUP BY *`,
      db: 'db1',
      epoch: 'ms',
      chunked: 'true',
      chunk_size: '10000',
    });
    expect(source.description).toBe(`InfluxDB ${url}/, database db1`);
  });

  it('reads a window measurement from influx.retentionPolicies.windows, where the sink wrote it', () => {
    const source = new InfluxPointSource(influxConfigSchema.parse({ retentionPolicy: 'weekly', retentionPolicies: { raw: 'short', windows: 'long' } }));
    expect(source.statement({ measurement: 'w10', devicePrefix: 'd', from: 0, to: 1 })).toMatch(/^SELECT \* FROM "long"\."w10" WHERE/);
    expect(source.statement({ measurement: 'readings', devicePrefix: 'd', from: 0, to: 1 })).toMatch(/^SELECT \* FROM "short"\."readings" WHERE/);
  });

  it('asks v2 with the bucket as db and a token', async () => {
    const { url, seen } = await stub(200, ['{"results":[{"statement_id":0}]}']);
    const source = new InfluxPointSource(influxConfigSchema.parse({ url, version: 2, bucket: 'b1', org: 'o', token: 'tok' }));
    expect(await collect(source)).toEqual([]);
    expect(seen[0]!.headers.authorization).toBe('Token tok');
    expect(seen[0]!.form.get('db')).toBe('b1');
    expect(seen[0]!.form.get('q')).toMatch(/^SELECT \* FROM "w10" WHERE/);
  });

  it('turns a statement error, a refusal and a cut-off answer into errors that say what to do', async () => {
    const notFound = await stub(200, ['{"results":[{"statement_id":0,"error":"database not found: nope"}]}']);
    await expect(collect(new InfluxPointSource(influxConfigSchema.parse({ url: notFound.url, database: 'nope' })))).rejects.toMatchObject({
      code: 'SLUICE_VERIFY_QUERY_FAILED',
      message: expect.stringMatching(/database not found: nope: set influx\.database/),
    });
    const refused = await stub(401, ['{"error":"authorization failed"}']);
    await expect(collect(new InfluxPointSource(influxConfigSchema.parse({ url: refused.url })))).rejects.toMatchObject({
      code: 'SLUICE_VERIFY_QUERY_FAILED',
      message: expect.stringMatching(/answered 401 \(authorization failed\): set influx\.username and influx\.password/),
    });
    const cut = await stub(200, ['{"results":[{"statement_id":0,"series":[']);
    await expect(collect(new InfluxPointSource(influxConfigSchema.parse({ url: cut.url })))).rejects.toMatchObject({ code: 'SLUICE_VERIFY_INFLUX_UNAVAILABLE', message: expect.stringMatching(/cut off/) });
  });
});
