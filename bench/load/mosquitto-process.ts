/**
 * mosquitto as a reference broker for `sluice bench --mode load`: the Debian package's
 * binary, started on a free loopback port with anonymous access and no persistence, so
 * it does what bare aedes does (route a QoS 1 publish to nobody and PUBACK it) in C.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SluiceError } from '../../core/index.js';
import { cpuSecondsOf, rssBytesOf, threadCpuSecondsOf } from '../proc-usage.js';
import type { BrokerProcess } from '../ramp/index.js';

const CANDIDATES = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'];
const READY_TIMEOUT_MS = 10_000;

/** The mosquitto binary, or undefined when it is not installed (`apt-get install mosquitto`). */
export function findMosquitto(): string | undefined {
  return CANDIDATES.find((path) => existsSync(path));
}

/** Starts mosquitto on a free 127.0.0.1 port and resolves once it accepts connections. */
export async function startMosquitto(binary: string): Promise<BrokerProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  // max_inflight_messages and max_queued_messages only bound what it sends on; persistence off like bare aedes.
  await writeFile(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest stderr', 'log_type error', ''].join('\n'));
  const child = spawn(binary, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  const failed = (message: string): SluiceError => new SluiceError('SLUICE_BENCH_BROKER_FAILED', `${message}${lines.length ? `:\n${lines.slice(-20).join('\n')}` : ''}`);
  try {
    await untilListening(port, () => child.exitCode !== null, () => failed(`mosquitto exited with ${child.exitCode} before it listened on ${port}`));
  } catch (err) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const pid = child.pid!;
  return {
    kind: 'mosquitto',
    command: `${binary} -c mosquitto.conf (listener ${port}, no persistence)`,
    processors: false,
    mqttUrl: `mqtt://127.0.0.1:${port}`,
    sample: async () => ({ cpuSeconds: cpuSecondsOf(pid), mainThreadCpuSeconds: threadCpuSecondsOf(pid), rssBytes: rssBytesOf(pid) }),
    exitCode: () => child.exitCode ?? child.signalCode,
    output: () => [...lines],
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A port nothing listens on now (the OS picks it; mosquitto takes no port 0). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once a TCP connection to `port` succeeds; mosquitto prints nothing when it is ready. */
async function untilListening(port: number, exited: () => boolean, failure: () => Error): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (exited()) throw failure();
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() - started > READY_TIMEOUT_MS) throw failure();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
