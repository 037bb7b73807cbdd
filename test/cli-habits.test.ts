/**
 * Issue 12, item 4 and 6, through the compiled CLI in real processes: every usage error is
 * one line `sluice: … [CODE]` and exit 2, --log-level and --log-format work, --version,
 * and /metrics has the build info, prom-client's process names and the split refusal counters.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { closed, connectDevice, deviceToken, encodeBatch } from './harness/devices.js';
import { SLUICE_BIN, spawnSluice } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

const run = promisify(execFile);
const FLEET_KEY = 'cli-habits-fleet-key-0123456789ab';
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const LOCAL = ['--set', 'mqtt.host=127.0.0.1', '--set', 'http.host=127.0.0.1'];

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function workDir(): Promise<string> {
  const dir = await tempDir('sluice-cli-habits-');
  cleanups.push(dir.remove);
  return dir.path;
}

/** Runs the CLI to its end: exit code, stdout, stderr. */
async function sluice(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [SLUICE_BIN, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A port something else holds for the length of the test. */
async function heldPort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as AddressInfo).port;
}

/** A port nothing listens on: bound, read back and released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The first stdout line of `child` that `match` accepts. */
function lineOf(child: ChildProcess, match: (line: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const seen: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (line) => {
      seen.push(line);
      if (match(line)) resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before the line; stdout:\n${seen.join('\n')}`)));
  });
}

const json = (line: string): Record<string, unknown> | undefined => {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
};

function expectOneLineError(result: { code: number; stderr: string }, code: string, mentions: RegExp): void {
  expect(result.code, result.stderr).toBe(2);
  const lines = result.stderr.split('\n').filter((l) => l !== '');
  expect(lines, 'stderr is one line').toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^sluice: .*\\[${code}\\]$`));
  expect(lines[0]).toMatch(mentions);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

describe('usage errors: one line and exit 2', () => {
  it('--set without =', async () => {
    const dir = await workDir();
    expectOneLineError(await sluice(['gateway', '--set', 'foo'], { cwd: dir }), 'SLUICE_USAGE', /--set: got "foo"; write path=value/);
  });

  it('--tag without =', async () => {
    const dir = await workDir();
    expectOneLineError(await sluice(['devices', 'add', 'd-1', '--tag', 'noeq'], { cwd: dir }), 'SLUICE_USAGE', /--tag: got "noeq"; write key=value/);
  });

  it('devices remove of a device the registry does not hold', async () => {
    const dir = await workDir();
    expectOneLineError(await sluice(['devices', 'remove', 'ghost'], { cwd: dir }), 'SLUICE_DEVICE_UNKNOWN', /no device "ghost" in .*devices\.json/);
  });

  it('an unknown option', async () => {
    const dir = await workDir();
    expectOneLineError(await sluice(['gateway', '--bogus'], { cwd: dir }), 'SLUICE_USAGE', /unknown option '--bogus'/);
  });

  it.each([
    ['mqtt.port', (port: number) => ['--mqtt-port', String(port), '--http-port', '0']],
    ['http.port', (port: number) => ['--mqtt-port', '0', '--http-port', String(port)]],
    ['mqtt.wsPort', (port: number) => ['--mqtt-port', '0', '--http-port', '0', '--set', `mqtt.wsPort=${port}`]],
  ])('a port in use names %s and the port', async (key, flags) => {
    const dir = await workDir();
    const port = await heldPort();
    const result = await sluice(['gateway', '--data-dir', dir, '--set', 'auth.mode=anonymous', ...LOCAL, ...flags(port)], { cwd: dir });
    expectOneLineError(result, 'SLUICE_PORT_IN_USE', new RegExp(`${key.replace('.', '\\.')} ${port}: 127\\.0\\.0\\.1:${port} is already in use`));
  });

  it('a port in use names mqtt.tls.port and the port', async () => {
    const dir = await workDir();
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=localhost', '-days', '1']);
    const port = await heldPort();
    const tls = ['--set', `mqtt.tls.port=${port}`, '--set', `mqtt.tls.cert=${cert}`, '--set', `mqtt.tls.key=${key}`];
    const result = await sluice(['gateway', '--data-dir', dir, '--mqtt-port', '0', '--http-port', '0', '--set', 'auth.mode=anonymous', ...LOCAL, ...tls], { cwd: dir });
    expectOneLineError(result, 'SLUICE_PORT_IN_USE', new RegExp(`mqtt\\.tls\\.port ${port}: 127\\.0\\.0\\.1:${port} is already in use`));
  });

  it('a missing TLS file names its key and path', async () => {
    const dir = await workDir();
    const result = await sluice(
      ['gateway', '--data-dir', dir, '--mqtt-port', '0', '--http-port', '0', '--set', 'auth.mode=anonymous', ...LOCAL, '--set', 'mqtt.tls.port=0', '--set', `mqtt.tls.cert=${dir}/missing.pem`, '--set', `mqtt.tls.key=${dir}/missing.key`],
      { cwd: dir },
    );
    expectOneLineError(result, 'SLUICE_CONFIG_INVALID', /mqtt\.tls\.cert: cannot read ".*missing\.pem" \(ENOENT\)/);
  });

  it('simulate to a port nothing listens on', async () => {
    const dir = await workDir();
    const port = await closedPort();
    const result = await sluice(['simulate', '--url', `mqtt://127.0.0.1:${port}`, '--devices', '2', '--duration', '1s', '--no-progress', '--set', 'auth.mode=anonymous'], { cwd: dir });
    expectOneLineError(result, 'SLUICE_SIM_UNREACHABLE', new RegExp(`no gateway at mqtt://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
  });

  it('a bad --log-level, from the flag or from SLUICE_LOG_LEVEL, is a config error', async () => {
    const dir = await workDir();
    expectOneLineError(await sluice(['gateway', '--log-level', 'nope'], { cwd: dir }), 'SLUICE_CONFIG_INVALID', /--log-level: got "nope"; use one of fatal, error, warn, info, debug, trace, silent/);
    expectOneLineError(await sluice(['devices', 'list'], { cwd: dir, env: { SLUICE_LOG_LEVEL: 'loud' } }), 'SLUICE_CONFIG_INVALID', /got "loud" from SLUICE_LOG_LEVEL/);
  });
});

describe('version and logs', () => {
  it('--version prints the package version', async () => {
    const dir = await workDir();
    expect(await sluice(['--version'], { cwd: dir })).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('--log-level debug logs debug lines (a client connecting), JSON when stdout is not a terminal', async () => {
    const dir = await workDir();
    const node = spawnSluice(['gateway', '--log-level', 'debug', '--data-dir', dir, '--mqtt-port', '0', '--http-port', '0', '--set', 'auth.mode=anonymous', ...LOCAL]);
    cleanups.push(async () => {
      node.child.kill('SIGKILL');
      await node.exited;
    });
    const { mqtt } = await node.ready;
    const connected = lineOf(node.child, (l) => json(l)?.msg === 'client connected');
    const device = await connectDevice(`mqtt://127.0.0.1:${mqtt}`, 'dbg-1', undefined, { username: undefined });
    expect(json(await connected)).toMatchObject({ level: 20, clientId: 'dbg-1' });
    await device.endAsync();
  });

  it('--log-format pretty writes lines for people', async () => {
    const dir = await workDir();
    const child = spawn(process.execPath, [SLUICE_BIN, 'gateway', '--log-format', 'pretty', '--data-dir', dir, '--mqtt-port', '0', '--http-port', '0', '--set', 'auth.mode=anonymous', ...LOCAL], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    cleanups.push(async () => {
      child.kill('SIGKILL');
      await exited;
    });
    const ready = await lineOf(child, (l) => l.includes('sluice ready'));
    expect(json(ready)).toBeUndefined();
    expect(ready).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(sluice\): sluice ready$/);
  });
});

describe('/metrics', () => {
  it('has sluice_build_info and prom-client process names, and counts a denied publish as a publish refusal, logged', async () => {
    const dir = await workDir();
    const node = spawnSluice(['gateway', '--data-dir', dir, '--mqtt-port', '0', '--http-port', '0', '--set', 'auth.mode=token', '--set', `auth.fleetKey=${FLEET_KEY}`, ...LOCAL]);
    cleanups.push(async () => {
      node.child.kill('SIGKILL');
      await node.exited;
    });
    const { mqtt, http } = await node.ready;
    const logged = lineOf(node.child, (l) => json(l)?.reason === 'acl_publish');
    const device = await connectDevice(`mqtt://127.0.0.1:${mqtt}`, 'habit-1', deviceToken(FLEET_KEY, 'habit-1'));
    const gone = closed(device);
    device.publish('devices/habit-2/telemetry', encodeBatch({ seq: 1, readings: [{ metric: 'a', doubleValue: 1 }] }), { qos: 1 });
    await gone;
    device.end(true);
    expect(json(await logged)).toMatchObject({ level: 40, reason: 'acl_publish', clientId: 'habit-1', topic: 'devices/habit-2/telemetry' });

    const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
    expect(text).toContain(`sluice_build_info{version="${VERSION}",node="${process.version}"} 1`);
    expect(text).toMatch(/^sluice_process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^sluice_nodejs_heap_size_used_bytes \d/m);
    expect(text).not.toContain('sluice_process_process_');
    expect(text).toContain('sluice_gateway_publishes_refused_total{reason="acl_publish"} 1');
    expect(text).toContain('# TYPE sluice_gateway_subscriptions_refused_total counter');
    expect(text).not.toMatch(/^sluice_gateway_connections_refused_total\{[^}]*\} [1-9]/m);
  });
});
