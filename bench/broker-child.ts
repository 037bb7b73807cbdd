/**
 * The broker under test, in its own process so its CPU and memory are its own:
 * `bare` is aedes with no hooks (the baseline), `sluice` is the full gateway on a durable
 * FileLog. Talks to the bench over IPC: sends {ready, port}, answers 'stats'.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { Registry } from 'prom-client';
import { loadConfig } from '../cli/config-loader.js';
import { createLogger } from '../core/index.js';
import { startGateway } from '../gateway/index.js';
import { FileLog } from '../log/index.js';

const mode = process.argv[2];
const send = (msg: unknown): void => void process.send!(msg);

async function startBare(): Promise<{ port: number; close(): Promise<void> }> {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}

async function startSluice(): Promise<{ port: number; close(): Promise<void> }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-bench-'));
  const config = await loadConfig({
    env: {},
    overrides: { dataDir, 'mqtt.port': '0', 'mqtt.host': '127.0.0.1', 'auth.mode': 'anonymous', 'limits.messagesPerSecond': '0', 'limits.readingsPerSecond': '0', 'limits.bytesPerSecond': '0', 'log.fsync': process.env.BENCH_FSYNC ?? 'batch' },
  });
  const log = await FileLog.open({ dir: join(dataDir, 'log'), partitions: config.partitions, ...config.log });
  const gateway = await startGateway(config, { log, registry: new Registry(), logger: createLogger('bench', 'error'), dataDir, partitions: config.partitions });
  return {
    port: gateway.ports.tcp ?? 0,
    close: async () => {
      await gateway.close();
      await log.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

const server = mode === 'bare' ? await startBare() : await startSluice();
process.on('message', (msg) => {
  if (msg === 'stats') {
    // BENCH_GC=1 (with --expose-gc) collects first: tells retained memory from garbage not yet collected.
    if (process.env.BENCH_GC) (globalThis as { gc?: () => void }).gc?.();
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    if (process.env.BENCH_GC) process.stderr.write(`memory: rss ${mem.rss >> 20} MiB, heap ${mem.heapUsed >> 20} MiB, external ${mem.external >> 20} MiB, arrayBuffers ${mem.arrayBuffers >> 20} MiB\n`);
    send({ cpuSeconds: (cpu.user + cpu.system) / 1e6, rssBytes: mem.rss });
  } else if (msg === 'stop') {
    server.close().then(() => process.exit(0));
  }
});
send({ ready: true, port: server.port });
