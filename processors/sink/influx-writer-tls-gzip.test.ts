/**
 * influx.tls and influx.contentEncoding against a capture server standing in for InfluxDB
 * 2.x (the harness's influxd 1.6 has no /api/v2): over https with a CA made at test time
 * by openssl, and with gzip bodies. test/influx-sink.test.ts checks gzip on a real influxd.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { influxConfigSchema } from './config.js';
import { SinkRejectedError } from './errors.js';
import { InfluxWriter } from './influx-writer.js';
import { toLineProtocol } from './point.js';
import { startCaptureServer, type CaptureServer } from './testing/capture-server.js';

let dir: string;
const servers: CaptureServer[] = [];
const writers: InfluxWriter[] = [];

/** A CA and a certificate for 127.0.0.1 it signed, as PEM files in `dir`. */
function makeCertificates(): void {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=sluice test CA');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > san.ext'], { cwd: dir });
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-influx-tls-'));
  makeCertificates();
});
afterEach(async () => {
  for (const writer of writers.splice(0)) writer.close();
  for (const server of servers.splice(0)) await server.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function server(https: boolean): Promise<CaptureServer> {
  const s = await startCaptureServer(https ? { tls: { cert: readFileSync(join(dir, 'server.pem')), key: readFileSync(join(dir, 'server.key')) } } : {});
  servers.push(s);
  return s;
}

function v2Writer(url: string, config: Record<string, unknown> = {}): InfluxWriter {
  const parsed = influxConfigSchema.parse({ url, version: 2, bucket: 'b', org: 'o', token: 't', maxRetries: 0, ...config });
  const writer = new InfluxWriter(parsed, { onBadPoint: () => {} });
  writers.push(writer);
  return writer;
}

const lines = Array.from({ length: 200 }, (_, i) => toLineProtocol({ measurement: 'telemetry_10s', tags: { device: `d${i % 20}`, metric: 'temp' }, fields: { count: { int: i }, mean: i / 3 }, timeMs: 1_700_000_000_000 + i * 10_000 }));

describe('influx.tls', () => {
  it('trusts InfluxDB signed by the CA in influx.tls.ca', async () => {
    const s = await server(true);
    await v2Writer(s.url, { tls: { ca: join(dir, 'ca.pem') } }).write(lines);
    expect(s.captured.map((c) => c.body)).toEqual([lines.join('\n')]);
  });

  it('refuses it without the CA, saying to set influx.tls.ca, and sends nothing', async () => {
    const s = await server(true);
    const err = await v2Writer(s.url).write(lines).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SinkRejectedError);
    expect((err as Error).message).toMatch(/TLS certificate is not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE: .*\); set influx\.tls\.ca to the PEM file of the CA that signed it/);
    expect(s.captured).toEqual([]);
  });

  it('accepts it with influx.tls.insecureSkipVerify', async () => {
    const s = await server(true);
    await v2Writer(s.url, { tls: { insecureSkipVerify: true } }).write(lines);
    expect(s.captured).toHaveLength(1);
  });

  it('fails at once, naming the key and the path, when the CA file cannot be read', () => {
    expect(() => v2Writer('https://127.0.0.1:1', { tls: { ca: join(dir, 'missing.pem') } })).toThrow(`influx.tls.ca: cannot read ${join(dir, 'missing.pem')} (ENOENT)`);
  });
});

describe('influx.contentEncoding', () => {
  it('gzip: every write carries Content-Encoding: gzip and fewer bytes; the lines are exact', async () => {
    const s = await server(false);
    await v2Writer(s.url, { contentEncoding: 'gzip' }).write(lines);
    const [req] = s.captured;
    expect(req!.headers['content-encoding']).toBe('gzip');
    expect(req!.body).toBe(lines.join('\n'));
    expect(req!.bytes).toBeLessThan(Buffer.byteLength(req!.body) / 3);
  });

  it('identity (the default): plain bodies', async () => {
    const s = await server(false);
    await v2Writer(s.url).write(lines);
    expect(s.captured[0]!.headers['content-encoding']).toBeUndefined();
    expect(s.captured[0]!.bytes).toBe(Buffer.byteLength(lines.join('\n')));
  });
});
