import { hostname } from 'node:os';
import { join } from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createLogger } from '../core/index.js';
import { startGateway, startHttpEndpoints } from '../gateway/index.js';
import { FileLog } from '../log/index.js';
import { aggregateMetrics, ProcessorPool } from '../processors/index.js';
import type { SluiceConfig } from './config-schema.js';
import { StatsReporter } from './stats/stats-reporter.js';

/** A running sluice process, whatever its role. */
export interface RunningNode {
  ports: { mqtt: number; tls?: number; ws?: number; http: number };
  stop(): Promise<void>;
}

/** Which parts a process runs: `start` runs both, `gateway` and `processor` one each. */
export interface NodeRoles {
  gateway: boolean;
  processors: boolean;
}

/**
 * Starts the embedded node: the FileLog under dataDir/log, then the processors (which
 * restore their checkpoints and replay the log), then the gateway, then the HTTP
 * endpoints. The FileLog belongs to one process: `gateway` and `processor` alone are
 * for a log nobody else has open (distributed mode will share a JetStream log instead).
 */
export async function runNode(config: SluiceConfig, roles: NodeRoles = { gateway: true, processors: true }): Promise<RunningNode> {
  const logger = createLogger('sluice');
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sluice_process_' });
  const log = await FileLog.open({ dir: join(config.dataDir, 'log'), partitions: config.partitions, ...config.log });
  for (const r of log.recovery) logger.warn(r, 'log: dropped a torn tail left by a crash');
  let ready = false;
  const all = Array.from({ length: config.partitions }, (_, p) => p);
  const processors = roles.processors ? new ProcessorPool(config, { log, logger: logger.child({ component: 'processor' }), dataDir: config.dataDir, partitions: all }) : undefined;
  await processors?.start();
  // Appends go through the pool's view of the log, which wakes the processor threads.
  const gateway = roles.gateway ? await startGateway(config, { log: processors?.log ?? log, registry, logger, dataDir: config.dataDir, partitions: config.partitions }) : undefined;
  // This thread's registry merged with the processor threads': what /metrics and sluice_stats show.
  const merged = async (): Promise<Registry> => (processors ? aggregateMetrics(await registry.getMetricsAsJSON(), await processors.metrics()) : registry);
  const metrics = { contentType: registry.contentType, metrics: async () => (await merged()).metrics() };
  const http = await startHttpEndpoints(config.http, metrics, () => ready);
  const stats = new StatsReporter({ config: config.stats, influx: config.influx, node: config.stats.node ?? `${hostname()}/${roles.gateway && roles.processors ? 'start' : roles.gateway ? 'gateway' : 'processor'}`, collect: async () => (await merged()).getMetricsAsJSON(), logger });
  stats.start();
  ready = true;
  const ports = { mqtt: gateway?.ports.tcp ?? 0, tls: gateway?.ports.tls, ws: gateway?.ports.ws, http: http.port };
  logger.info({ ports, dataDir: config.dataDir }, 'sluice ready');
  return {
    ports,
    stop: async () => {
      ready = false;
      stats.stop();
      await gateway?.close();
      await processors?.stop();
      await log.close();
      await http.close();
    },
  };
}

/** Stops the node on SIGINT/SIGTERM; a second signal exits at once. */
export function stopOnSignals(node: RunningNode): void {
  let stopping = false;
  const onSignal = (): void => {
    if (stopping) process.exit(130);
    stopping = true;
    node.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`sluice: error while stopping: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
