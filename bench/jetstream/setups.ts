/**
 * The three set-ups the bench compares, each started from one config file: embedded
 * (`sluice start`, FileLog, processors in worker threads), JetStream R1 (one nats-server,
 * `sluice gateway` + `sluice processor` over every partition) and JetStream R3 (a 3-node
 * nats-server cluster, the same two processes). nats-server comes from the test harness
 * (tsc compiles the imported harness files into dist/ although test/ is not a build root).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startNatsCluster, startNatsServer, type TestNats } from '../../test/harness/nats-server.js';
import { tempDir } from '../../test/harness/temp-dir.js';
import { metricSum } from '../ramp/broker-process.js';
import type { Watched } from '../proc-usage.js';
import { startSluiceChild, type SluiceChild } from './sluice-child.js';

export const SETUP_NAMES = ['embedded', 'jetstream-r1', 'jetstream-r3'] as const;
export type SetupName = (typeof SETUP_NAMES)[number];

/** What each set-up is, for the report. */
export const SETUP_TITLES: Record<SetupName, string> = {
  embedded: 'embedded: sluice start (FileLog, processor worker threads)',
  'jetstream-r1': 'JetStream R1: 1 nats-server, 1 gateway + 1 processor',
  'jetstream-r3': 'JetStream R3: 3-node nats-server cluster, 1 gateway + 1 processor',
};

/** A started set-up: where to send, what to measure, how to take it down. */
export interface RunningSetup {
  name: SetupName;
  configFile: string;
  /** MQTT URL(s) for `sluice simulate --url`. */
  urls: string;
  /** Every sluice and nats-server process of the set-up (not influxd, which all set-ups share). */
  watched: Watched[];
  /** Telemetry messages the gateway has accepted, and those the processors have read (their counter moves at each checkpoint). */
  counters(): Promise<{ accepted: number; processed: number }>;
  /** The last output lines of every sluice process, for an error message. */
  output(): string;
  /** Stops every process of the set-up and removes its temp dir; safe to call twice. */
  stop(): Promise<void>;
}

/** Settings every set-up shares: the same gateway, processors and sink; only the log differs. */
function baseConfig(influxUrl: string, database: string): Record<string, unknown> {
  return {
    mqtt: { host: '127.0.0.1' },
    http: { host: '127.0.0.1' },
    auth: { mode: 'anonymous' },
    // The bench offers the load: no per-device limit may shape it.
    limits: { messagesPerSecond: 0, readingsPerSecond: 0, bytesPerSecond: 0 },
    // As `sluice bench --influx-url`: the verify run's last windows reach InfluxDB within seconds.
    influx: { url: influxUrl, database, flushInterval: '500ms' },
    time: { idleTimeout: '2s' },
    // The processors' message counter (the catch-up check) moves at each checkpoint.
    checkpoint: { interval: '1s' },
  };
}

/** Starts set-up `name` writing to `database` on `influxUrl`; everything started is stopped again if a later part fails. */
export async function startSetup(name: SetupName, influxUrl: string, database: string): Promise<RunningSetup> {
  const dir = await tempDir(`sluice-bench-${name}-`);
  const children: SluiceChild[] = [];
  let nats: TestNats | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // Gateways first (no new appends), then processors, then the log's servers.
    for (const c of children.reverse()) await c.stop();
    await nats?.destroy();
    await rm(dir.path, { recursive: true, force: true });
  };
  try {
    const config = baseConfig(influxUrl, database);
    if (name !== 'embedded') {
      nats = name === 'jetstream-r3' ? await startNatsCluster() : await startNatsServer();
      Object.assign(config, { log: { kind: 'jetstream' }, nats: { servers: nats.servers, replicas: name === 'jetstream-r3' ? 3 : 1 } });
    }
    const configFile = join(dir.path, 'sluice.yaml');
    await writeFile(configFile, stringify(config));
    const child = async (role: string, extra: string[] = []): Promise<SluiceChild> => {
      const dataDir = join(dir.path, role);
      await mkdir(dataDir);
      const c = await startSluiceChild(role, [role, '--config', configFile, '--data-dir', dataDir, '--mqtt-port', '0', '--http-port', '0', ...extra]);
      children.push(c);
      return c;
    };
    // Processors before the gateway, as the cluster harness does: nothing waits unread.
    const processor = name === 'embedded' ? await child('start') : await child('processor');
    const gateway = name === 'embedded' ? processor : await child('gateway');
    const watched: Watched[] = [
      ...children.map((c) => ({ name: c.name, pid: c.pid })),
      ...(nats?.nodes ?? []).map((n) => ({ name: `nats ${n.name}`, pid: n.pid! })),
    ];
    return {
      name,
      configFile,
      urls: `mqtt://127.0.0.1:${gateway.ports.mqtt}`,
      watched,
      counters: async () => ({
        accepted: await scrape(gateway, 'sluice_gateway_messages_total'),
        processed: await scrape(processor, 'sluice_processor_messages_total'),
      }),
      output: () => children.map((c) => `--- ${c.name}\n${c.output().slice(-20).join('\n')}`).join('\n'),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The sum of metric `name` over its label sets on `child`'s /metrics (0 when absent). */
async function scrape(child: SluiceChild, name: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${child.ports.http}/metrics`);
  if (!res.ok) throw new Error(`${child.name} /metrics answered ${res.status}`);
  return metricSum(await res.text(), name) ?? 0;
}
