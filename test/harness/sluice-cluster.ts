/**
 * Distributed mode for integration tests: nats-server (one node or a 3-node cluster), a
 * real influxd, and `sluice gateway` / `sluice processor` processes sharing one config
 * file (log.kind: jetstream), each with its own dataDir and ports.
 */
import { writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { onTestFailed } from 'vitest';
import { stringify } from 'yaml';
import { startInfluxd, type TestInfluxd } from './influxdb.js';
import { startNatsCluster, startNatsServer, type TestNats } from './nats-server.js';
import { scrapeMetric } from './pipeline-node.js';
import { spawnSluice, type SluiceProcess } from './sluice-process.js';
import { tempDir } from './temp-dir.js';

/** One sluice process of the cluster: restartable with the same arguments. */
export class ClusterMember {
  process!: SluiceProcess;
  ports!: { mqtt: number; http: number };

  constructor(
    readonly name: string,
    readonly args: string[],
  ) {}

  /** Starts the process and waits for its 'sluice ready' line. */
  async start(): Promise<void> {
    this.process = spawnSluice(this.args);
    this.ports = await this.process.ready;
  }

  /** SIGKILL: a crash, nothing flushed. */
  async kill(): Promise<void> {
    this.process.child.kill('SIGKILL');
    await this.process.exited;
  }

  /** One unlabelled metric from its /metrics; unanswered, the error says whether it exited and what it printed last. */
  async metric(name: string): Promise<number> {
    try {
      return await scrapeMetric(this.ports.http, name);
    } catch (err) {
      const { exitCode, signalCode } = this.process.child;
      // The CI log keeps only its tail, where this message lands: the member's own last lines go with it.
      throw new Error(`${this.name} did not answer /metrics (${String((err as Error).cause ?? err)}; exit code ${exitCode}, signal ${signalCode}); its last lines:\n${this.process.output.slice(-12).join('\n')}`, { cause: err });
    }
  }
}

export interface SluiceClusterOptions {
  /** 'cluster': three nats-server nodes and stream replicas 3; 'single': one node, replicas 1. */
  nats: 'single' | 'cluster';
  gateways: number;
  /** One processor per entry: over that partition set (e.g. "0-31"), or null to share the partitions with the other such processors (leases). */
  processors: (string | null)[];
  /** The config's `cluster` section (leases), e.g. a short handoffGrace. */
  cluster?: Record<string, string>;
  fleetKey: string;
  database: string;
  /** The config's `time` section. */
  time: Record<string, string>;
  checkpointInterval?: string;
  /** Where the test's cleanups go (run in reverse). */
  cleanups: (() => Promise<unknown>)[];
}

export interface SluiceCluster {
  nats: TestNats;
  influx: TestInfluxd;
  configFile: string;
  dir: string;
  gateways: ClusterMember[];
  processors: ClusterMember[];
  /** The gateways' MQTT URLs, comma-separated, as `sluice simulate --url` takes them. */
  urls: string;
  /** A new processor process over `partitions` (null: sharing by leases), not started, cleaned up with the rest. */
  processor(partitions: string | null): ClusterMember;
}

/** Starts NATS and influxd, then the processors, then the gateways; everything is killed and removed by the cleanups. */
export async function startSluiceCluster(o: SluiceClusterOptions): Promise<SluiceCluster> {
  // NATS and influxd start side by side: a cluster start is ~10 s of every test that uses one.
  const [natsStarted, influxStarted] = await Promise.allSettled([o.nats === 'cluster' ? startNatsCluster() : startNatsServer(), startInfluxd()]);
  if (natsStarted.status === 'fulfilled') o.cleanups.push(() => natsStarted.value.destroy());
  if (influxStarted.status === 'fulfilled') o.cleanups.push(() => influxStarted.value.destroy());
  if (natsStarted.status === 'rejected') throw natsStarted.reason;
  if (influxStarted.status === 'rejected') throw influxStarted.reason;
  const nats = natsStarted.value;
  const influx = influxStarted.value;
  const dir = await tempDir('sluice-cluster-');
  o.cleanups.push(dir.remove);
  const configFile = join(dir.path, 'sluice.yaml');
  await writeFile(
    configFile,
    stringify({
      log: { kind: 'jetstream' },
      nats: { servers: nats.servers, replicas: o.nats === 'cluster' ? 3 : 1 },
      mqtt: { host: '127.0.0.1' },
      http: { host: '127.0.0.1' },
      auth: { mode: 'token', fleetKey: o.fleetKey },
      decode: { threads: 1 },
      influx: { url: influx.url, database: o.database, flushInterval: '200ms' },
      time: o.time,
      checkpoint: { interval: o.checkpointInterval ?? '1s' },
      ...(o.cluster === undefined ? {} : { cluster: o.cluster }),
    }),
  );
  const members: ClusterMember[] = [];
  o.cleanups.push(async () => {
    for (const m of members) if (m.process !== undefined && m.process.child.exitCode === null) await m.kill();
  });
  onTestFailed(() => {
    for (const m of members) if (m.process !== undefined) console.error(`${m.name} output:\n${m.process.output.slice(-30).join('\n')}`);
    // SLUICE_TEST_DUMP=<dir> (with SLUICE_LOG_LEVEL=debug to follow each partition): every member's whole output, a file each.
    if (process.env.SLUICE_TEST_DUMP) for (const m of members) if (m.process !== undefined) writeFileSync(`${process.env.SLUICE_TEST_DUMP}/${m.name}.log`, m.process.output.join('\n'));
  });
  // Port 0 everywhere: each process reports the ports it got in its 'sluice ready' line.
  const member = (name: string, role: 'gateway' | 'processor', extra: string[]): ClusterMember => {
    const m = new ClusterMember(name, [role, '--config', configFile, '--data-dir', join(dir.path, name), '--mqtt-port', '0', '--http-port', '0', ...extra]);
    members.push(m);
    return m;
  };
  const processors = o.processors.map((set, i) => member(`processor-${i}`, 'processor', set === null ? [] : ['--partitions', set]));
  const gateways = Array.from({ length: o.gateways }, (_, i) => member(`gateway-${i}`, 'gateway', []));
  // Processors one after another: tests of lease sharing count on the first one holding
  // every partition before the next joins (handoffs). Gateways side by side.
  for (const p of processors) await p.start();
  await Promise.all(gateways.map((g) => g.start()));
  const urls = gateways.map((g) => `mqtt://127.0.0.1:${g.ports.mqtt}`).join(',');
  let extra = 0;
  const cluster: SluiceCluster = {
    nats,
    influx,
    configFile,
    dir: dir.path,
    gateways,
    processors,
    urls,
    processor: (partitions) => member(`processor-extra-${extra++}`, 'processor', partitions === null ? [] : ['--partitions', partitions]),
  };
  return cluster;
}
