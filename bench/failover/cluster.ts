/**
 * The bench's distributed set-up: a 3-node nats-server cluster (stream R3), influxd, two
 * `sluice gateway` and the processors sharing the partitions by lease (no
 * `--partitions`), all from one config file, each process with its own dataDir and ports.
 * Processors get a member id the bench chooses, so it knows which lease holder is which
 * process without reading their logs.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startInfluxd, type TestInfluxd } from '../../test/harness/influxdb.js';
import { startNatsCluster, type TestNats } from '../../test/harness/nats-server.js';
import { tempDir } from '../../test/harness/temp-dir.js';
import { startSluiceChild, type SluiceChild } from '../jetstream/sluice-child.js';
import type { FailoverBenchOptions } from './options.js';

/** Partitions of the stream (Sluice's default): 16 per member of four. */
export const PARTITIONS = 64;
const GATEWAYS = 2;

/** A processor process and the member id it holds leases under. */
export interface ProcessorMember {
  memberId: string;
  child: SluiceChild;
}

/** A started set-up; `stop()` takes every process down and removes the temp dirs. */
export interface FailoverCluster {
  configFile: string;
  /** The gateways' MQTT URLs, comma-separated, for `sluice simulate --url`. */
  urls: string;
  natsServers: string[];
  /** The processors running now, in slot order (a replacement takes its victim's slot). */
  processors: ProcessorMember[];
  /** Spawns a processor under a new member id; resolves once it is ready (it has joined). */
  startProcessor(): Promise<ProcessorMember>;
  /** The last lines of every sluice process, for an error message. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts NATS, influxd, the processors, then the gateways; whatever started is stopped again if a later part fails. */
export async function startFailoverCluster(options: FailoverBenchOptions): Promise<FailoverCluster> {
  const dir = await tempDir('sluice-bench-failover-');
  const children: SluiceChild[] = [];
  let nats: TestNats | undefined;
  let influx: TestInfluxd | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // SIGKILL: the bench has measured what it came for, and a graceful handover of 64 partitions would only add minutes.
    await Promise.all(children.map((c) => c.kill()));
    await nats?.destroy();
    await influx?.destroy();
    await dir.remove();
  };
  try {
    nats = await startNatsCluster();
    influx = await startInfluxd();
    const configFile = join(dir.path, 'sluice.yaml');
    await writeFile(configFile, stringify(benchConfig(nats.servers, influx.url, options)));
    let count = 0;
    const spawn = async (name: string, args: string[]): Promise<SluiceChild> => {
      const dataDir = join(dir.path, name);
      await mkdir(dataDir);
      const child = await startSluiceChild(name, [...args, '--config', configFile, '--data-dir', dataDir, '--mqtt-port', '0', '--http-port', '0']);
      children.push(child);
      return child;
    };
    const startProcessor = async (): Promise<ProcessorMember> => {
      const memberId = `bench-p${count++}`;
      return { memberId, child: await spawn(memberId, ['processor', '--set', `cluster.memberId=${memberId}`]) };
    };
    // Processors before the gateways, as the cluster harness does: nothing waits unread.
    const processors: ProcessorMember[] = [];
    for (let i = 0; i < options.processors; i++) processors.push(await startProcessor());
    const gateways: SluiceChild[] = [];
    for (let i = 0; i < GATEWAYS; i++) gateways.push(await spawn(`gateway-${i}`, ['gateway']));
    return {
      configFile,
      urls: gateways.map((g) => `mqtt://127.0.0.1:${g.ports.mqtt}`).join(','),
      natsServers: nats.servers,
      processors,
      startProcessor,
      output: () => children.map((c) => `--- ${c.name} (${c.exitStatus() ?? 'running'})\n${c.output().slice(-15).join('\n')}`).join('\n'),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** One config for every process: distributed mode on the R3 stream, Sluice's cluster defaults unless BENCH_HANDOFF_GRACE says otherwise. */
function benchConfig(servers: string[], influxUrl: string, options: FailoverBenchOptions): Record<string, unknown> {
  return {
    log: { kind: 'jetstream' },
    nats: { servers, replicas: 3 },
    mqtt: { host: '127.0.0.1' },
    http: { host: '127.0.0.1' },
    auth: { mode: 'anonymous' },
    // The bench offers the load: no per-device limit may shape it.
    limits: { messagesPerSecond: 0, readingsPerSecond: 0, bytesPerSecond: 0 },
    // Two gateways and up to four processors on two shared cores: one decode thread each.
    decode: { threads: 1 },
    influx: { url: influxUrl, database: `sluice_bench_failover_${Date.now()}`, flushInterval: '500ms' },
    time: { idleTimeout: '2s' },
    checkpoint: { interval: '1s' },
    ...(options.handoffGrace === undefined ? {} : { cluster: { handoffGrace: options.handoffGrace } }),
  };
}
