import { join } from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createLogger } from '../core/index.js';
import { startGateway, startHttpEndpoints } from '../gateway/index.js';
import { FileLog } from '../log/index.js';
import type { SluiceConfig } from './config-schema.js';

/** A running sluice process, whatever its role. */
export interface RunningNode {
  ports: { mqtt: number; tls?: number; ws?: number; http: number };
  stop(): Promise<void>;
}

/**
 * Starts the embedded node: the FileLog under dataDir/log, the gateway, and the HTTP
 * endpoints. (Processors join here when they exist.)
 */
export async function runNode(config: SluiceConfig): Promise<RunningNode> {
  const logger = createLogger('sluice');
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sluice_process_' });
  const log = await FileLog.open({ dir: join(config.dataDir, 'log'), partitions: config.partitions, ...config.log });
  for (const r of log.recovery) logger.warn(r, 'log: dropped a torn tail left by a crash');
  let ready = false;
  const gateway = await startGateway(config, { log, registry, logger, dataDir: config.dataDir, partitions: config.partitions });
  const http = await startHttpEndpoints(config.http, registry, () => ready);
  ready = true;
  const ports = { mqtt: gateway.ports.tcp, tls: gateway.ports.tls, ws: gateway.ports.ws, http: http.port };
  logger.info({ ports, dataDir: config.dataDir }, 'sluice ready');
  return {
    ports,
    stop: async () => {
      ready = false;
      await gateway.close();
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
