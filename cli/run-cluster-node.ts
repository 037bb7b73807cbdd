import { hostname } from 'node:os';
import { Registry } from 'prom-client';
import { Backoff, createLogger, lockDataDir, StorageHealth, type Logger } from '../core/index.js';
import { startGateway, startHttpEndpoints } from '../gateway/index.js';
import { JetStreamLog } from '../log/index.js';
import { NatsCheckpointStore, ProcessorNode } from '../processors/index.js';
import { parsePartitionSet } from '../routing/index.js';
import type { SluiceConfig } from './config-schema.js';
import { failureOf } from './failure.js';
import { registerProcessMetrics } from './process-metrics.js';
import type { NodeRoles, RunningNode } from './run-node.js';
import { StatsReporter } from './stats/stats-reporter.js';

/**
 * Starts a node of distributed mode (`log.kind: jetstream`): the HTTP endpoints (not
 * ready yet), the JetStreamLog on the `nats` cluster (waited for while NATS is
 * unreachable), then, for the processor role, one ProcessorNode on this thread over the
 * partitions of `processors.partitions` with its checkpoints in NATS (claimed at start,
 * which fences any earlier owner), then, for the gateway role, the MQTT gateway appending
 * to the stream. Several gateways and processors share one stream; a processor that
 * finds another has claimed its partitions stops with CheckpointFencedError.
 */
export async function runClusterNode(config: SluiceConfig, roles: NodeRoles): Promise<RunningNode> {
  const logger = createLogger('sluice');
  const registry = new Registry();
  registerProcessMetrics(registry);
  const health = new StorageHealth({ registry, logger });
  const nats = config.nats!;
  // Dead letters stay local: one process per dataDir still.
  const lock = await lockDataDir(config.dataDir);
  let phase: string | undefined = 'connecting to NATS';
  let sinkProblem: string | undefined;
  const metrics = { contentType: registry.contentType, metrics: () => registry.metrics() };
  const http = await startHttpEndpoints(config.http, metrics, () => health.problem ?? sinkProblem ?? phase).catch(async (err: unknown) => {
    await lock.release();
    throw err;
  });
  let log: JetStreamLog;
  try {
    log = await openWhenNatsAnswers(config, logger);
  } catch (err) {
    await http.close();
    await lock.release();
    throw err;
  }

  let processor: ProcessorNode | undefined;
  if (roles.processors) {
    phase = 'restoring checkpoints';
    const partitions = config.processors.partitions === undefined ? Array.from({ length: config.partitions }, (_, p) => p) : parsePartitionSet(config.processors.partitions, config.partitions);
    const store = await NatsCheckpointStore.open({ connection: log.connection, keep: config.checkpoint.keep, partitions, config: { replicas: nats.replicas } });
    processor = new ProcessorNode(config, {
      log,
      store,
      registry,
      logger: logger.child({ component: 'processor' }),
      partitions,
      health,
      onSinkRefusal: (problem) => (sinkProblem = problem),
      // A bug, or another processor has claimed these partitions: stop loudly; a supervisor restarts from the checkpoints.
      onFatal: (err) => {
        const { line, exitCode } = failureOf(err);
        logger.fatal({ err }, 'processor stopped');
        process.stderr.write(line);
        process.exit(exitCode);
      },
    });
    await processor.start();
    logger.info({ partitions: config.processors.partitions ?? `0-${config.partitions - 1}` }, 'processor claimed its partitions');
  }
  const gateway = roles.gateway ? await startGateway(config, { log, registry, logger, dataDir: config.dataDir, partitions: config.partitions, health }) : undefined;
  const role = roles.gateway && roles.processors ? 'start' : roles.gateway ? 'gateway' : 'processor';
  const stats = new StatsReporter({ config: config.stats, influx: config.influx, node: config.stats.node ?? `${hostname()}/${role}`, collect: () => registry.getMetricsAsJSON(), logger });
  stats.start();
  phase = undefined;
  const ports = { mqtt: gateway?.ports.tcp ?? 0, tls: gateway?.ports.tls, ws: gateway?.ports.ws, wss: gateway?.ports.wss, http: http.port };
  logger.info({ ports, dataDir: config.dataDir, stream: nats.stream, servers: nats.servers }, 'sluice ready');
  return {
    ports,
    reload: async () => {
      if (gateway) await gateway.reload();
      else logger.info('SIGHUP: nothing to reload in a processor-only process');
    },
    stop: async () => {
      phase = 'stopping';
      stats.stop();
      // Publishes not yet in the stream are not acknowledged: their devices send them to another gateway.
      await gateway?.close();
      await processor?.stop();
      await log.close();
      await lock.release();
      await http.close();
    },
  };
}

/** Opens the JetStreamLog, waiting with backoff while NATS does not answer (a cluster still starting); a config the stream contradicts fails at once. */
async function openWhenNatsAnswers(config: SluiceConfig, logger: Logger): Promise<JetStreamLog> {
  const backoff = new Backoff(200, 5000);
  for (let attempt = 1; ; attempt++) {
    try {
      return await JetStreamLog.open({ ...config.nats!, partitions: config.partitions });
    } catch (err) {
      if (!(err as { canRetry?: boolean }).canRetry) throw err;
      if (attempt === 1) logger.warn({ err: (err as Error).message }, 'NATS is not reachable yet; waiting for it (/readyz answers 503)');
      await new Promise((resolve) => setTimeout(resolve, backoff.next()));
    }
  }
}
