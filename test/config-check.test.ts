/**
 * `sluice config check` as an operator runs it: the compiled CLI, a YAML config, real ACL,
 * registry and TLS files, and a real influxd with authentication on.
 */
import { execFile, execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startInfluxd, type TestInfluxd } from './harness/influxdb.js';
import { startNatsServer } from './harness/nats-server.js';
import { SLUICE_BIN } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

const run = promisify(execFile);
let influx: TestInfluxd;
let dir: { path: string; remove(): Promise<void> };

beforeAll(async () => {
  influx = await startInfluxd({ auth: true });
  dir = await tempDir();
  for (const q of ['CREATE DATABASE "checked"', `CREATE USER "ops" WITH PASSWORD 'ops-pw'`, 'GRANT ALL ON "checked" TO "ops"', `CREATE USER "viewer" WITH PASSWORD 'viewer-pw'`, 'GRANT READ ON "checked" TO "viewer"']) await influx.query(q);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'mqtt.key', '-out', 'mqtt.pem', '-days', '2', '-subj', '/CN=sluice.test'], { cwd: dir.path, stdio: 'pipe' });
  await writeFile(join(dir.path, 'acl.conf'), 'topic read devices/+/telemetry\npattern write devices/%c/telemetry/#\n');
  await run(process.execPath, [SLUICE_BIN, 'devices', 'add', 'meter-1', '--set', `auth.registry=${join(dir.path, 'devices.json')}`], { cwd: dir.path });
});
afterAll(async () => {
  await influx?.destroy();
  await dir?.remove();
});

/** A config file whose keys are the good setup's, with `changes` applied (null removes a key). */
async function config(name: string, changes: Record<string, unknown> = {}): Promise<string> {
  const influxKeys = { url: influx.url, database: 'checked', username: 'ops', password: 'ops-pw', ...(changes.influx as object) };
  const yaml = [
    `dataDir: ./data-${name}`,
    `acl:\n  file: ${(changes.acl as string | undefined) ?? 'acl.conf'}`,
    'auth:\n  registry: devices.json',
    `mqtt:\n  tls:\n    port: 0\n    cert: mqtt.pem\n    key: ${(changes.key as string | undefined) ?? 'mqtt.key'}`,
    `influx:\n${Object.entries(influxKeys).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`).join('\n')}`,
    ...(changes.nats === undefined ? [] : [`log:\n  kind: jetstream\nnats: ${JSON.stringify(changes.nats)}`]),
  ].join('\n');
  const file = join(dir.path, `${name}.yaml`);
  await writeFile(file, yaml);
  return file;
}

/** Runs `sluice config check --config file`: exit code and printed lines. */
async function check(file: string): Promise<{ code: number; lines: string[] }> {
  const done = await run(process.execPath, [SLUICE_BIN, 'config', 'check', '--config', file], { cwd: dir.path }).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
  );
  return { code: done.code, lines: done.stdout.trim().split('\n') };
}

describe('sluice config check', () => {
  it('passes a good setup: one ✓ line per check, exit 0, and leaves no data in InfluxDB', async () => {
    const { code, lines } = await check(await config('good'));
    expect(lines).toEqual([
      `✓ config ${join(dir.path, 'good.yaml')}: valid`,
      `✓ acl.file ${join(dir.path, 'acl.conf')}: parses`,
      `✓ auth.registry ${join(dir.path, 'devices.json')}: 1 device`,
      expect.stringMatching(new RegExp(`^✓ mqtt\\.tls\\.cert ${join(dir.path, 'mqtt.pem')}: CN=sluice\\.test, valid until .*, key matches$`)),
      '– influx.tls.ca: not used (influx.url is http://)',
      `✓ InfluxDB ${influx.url}: answers /ping`,
      '✓ InfluxDB credentials: influx.username ops accepted',
      '✓ InfluxDB database checked: exists',
      '✓ InfluxDB write to checked: influx.username ops may write (checked with an empty write: nothing stored)',
      '– NATS: not used (log.kind is file)',
    ]);
    expect(code).toBe(0);
    expect(await influx.query('SHOW MEASUREMENTS', 'checked')).toEqual([]);
  });

  it('a bad ACL line: ✗ with the file, the line number and the line, exit 2', async () => {
    await writeFile(join(dir.path, 'bad-acl.conf'), 'topic read devices/+/telemetry\ntopic sometimes devices/#\n');
    const { code, lines } = await check(await config('bad-acl', { acl: 'bad-acl.conf' }));
    expect(lines.filter((l) => l.startsWith('✗'))).toEqual([expect.stringMatching(new RegExp(`^✗ acl\\.file ${join(dir.path, 'bad-acl.conf')}: .*line 2.*sometimes`))]);
    expect(code).toBe(2);
  });

  it('a missing TLS file: ✗ naming the key and the path, exit 2', async () => {
    const { code, lines } = await check(await config('no-key', { key: 'gone.key' }));
    expect(lines.filter((l) => l.startsWith('✗'))).toEqual([`✗ mqtt.tls.key ${join(dir.path, 'gone.key')}: cannot read it (ENOENT); set mqtt.tls.key to a PEM file`]);
    expect(code).toBe(2);
  });

  it('a wrong InfluxDB password: ✗ credentials with what to fix, exit 1', async () => {
    const { code, lines } = await check(await config('bad-password', { influx: { password: 'wrong' } }));
    expect(lines.filter((l) => l.startsWith('✗'))).toEqual([
      `✗ InfluxDB credentials: InfluxDB at ${influx.url} answered 401 (authorization failed): influx.username ops or influx.password is wrong; fix them (a user with WRITE on database checked)`,
    ]);
    expect(code).toBe(1);
  });

  it('a user that may not write: ✗ write with the GRANT to run, exit 1', async () => {
    const { code, lines } = await check(await config('viewer', { influx: { username: 'viewer', password: 'viewer-pw' } }));
    expect(lines.filter((l) => l.startsWith('✗'))).toEqual([expect.stringMatching(/^✗ InfluxDB write to checked: .*answered 403.*GRANT WRITE ON "checked" TO "viewer"/)]);
    expect(code).toBe(1);
  });

  it('retention policies: ✓ one that exists, ✗ one the user (not an admin) cannot create, with the statement to run, exit 1', async () => {
    await influx.query('CREATE RETENTION POLICY "week" ON "checked" DURATION 7d REPLICATION 1');
    const { code, lines } = await check(await config('policies', {
      influx: { retentionPolicies: { raw: 'week', windows: 'forever' }, createRetentionPolicies: [{ name: 'forever', duration: 'INF' }] },
    }));
    expect(lines.filter((l) => l.includes('retention policy'))).toEqual([
      '✓ InfluxDB retention policy week: exists (never altered by Sluice)',
      '✗ InfluxDB retention policy forever: not listed by SHOW RETENTION POLICIES ON "checked", and influx.username ops is not an admin, so sluice start cannot create it: as an admin run `CREATE RETENTION POLICY "forever" ON "checked" DURATION INF REPLICATION 1`, or fix influx.retentionPolicies',
    ]);
    expect(code).toBe(1);
    const admin = await check(await config('policies-admin', {
      influx: { username: influx.admin!.username, password: influx.admin!.password, retentionPolicies: { windows: 'forever' }, createRetentionPolicies: [{ name: 'forever', duration: 'INF' }] },
    }));
    expect(admin.lines.filter((l) => l.includes('retention policy'))).toEqual([
      '✓ InfluxDB retention policy forever: does not exist yet; sluice start creates it (influx.createRetentionPolicies: DURATION INF, and the user is an admin)',
    ]);
    expect(admin.code).toBe(0);
    expect((await influx.query('SHOW RETENTION POLICIES ON "checked"')).map((rp) => rp.name)).toEqual(['autogen', 'week']);
  });

  it('an unreachable InfluxDB: ✗ with the URL and the error, exit 1', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const { code, lines } = await check(await config('unreachable', { influx: { url } }));
    expect(lines.filter((l) => l.startsWith('✗'))).toEqual([expect.stringMatching(new RegExp(`^✗ InfluxDB ${url}: InfluxDB at ${url} is unreachable: connect ECONNREFUSED`))]);
    expect(code).toBe(1);
  });

  it('an invalid config: ✗ config with the key and the value on one line, exit 2', async () => {
    const file = join(dir.path, 'invalid.yaml');
    await writeFile(file, 'mqtt:\n  port: lots\n');
    const { code, lines } = await check(file);
    expect(lines).toEqual([`✗ config ${file}: invalid configuration in ${file}: mqtt.port: Invalid input: expected number, received string (got "lots") [SLUICE_CONFIG_INVALID]`]);
    expect(code).toBe(2);
  });

  it('in distributed mode reaches NATS: JetStream on, the stream absent or with the configured replicas; unreachable NATS is ✗ and exit 1', async () => {
    const nats = await startNatsServer();
    try {
      const good = await check(await config('nats-good', { nats: { servers: nats.servers } }));
      expect(good.lines.slice(-3)).toEqual([
        expect.stringMatching(/^✓ NATS nats:\/\/127\.0\.0\.1:\d+: connected to .* \(nats-server 2\.\d+\.\d+\)$/),
        '✓ NATS JetStream: enabled for this account',
        '✓ NATS stream SLUICE: not there yet; the first gateway or processor creates it',
      ]);
      expect(good.code).toBe(0);
      const port = await freePort();
      const down = await check(await config('nats-down', { nats: { servers: [`nats://127.0.0.1:${port}`] } }));
      expect(down.lines.at(-1)).toMatch(new RegExp(`^✗ NATS nats://127\\.0\\.0\\.1:${port}: cannot connect .*check nats\\.servers`));
      expect(down.code).toBe(1);
    } finally {
      await nats.destroy();
    }
  });
});
