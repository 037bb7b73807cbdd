import { AlertRelay } from './alert-relay.js';
import type { AlertTransition } from '../processors/rules/index.js';
import { hostname } from 'node:os';
import { Registry } from 'prom-client';
import { Backoff, createLogger, lockDataDir, StorageHealth, type Logger } from '../core/index.js';
import { startGateway, startHttpEndpoints } from '../gateway/index.js';
import { JetStreamLog, registerJetStreamLogMetrics } from '../log/index.js';
import { HealthClock, Membership, parseClusterConfig, PartitionBalancer, PartitionLeases, type PartitionHost } from '../cluster/index.js';
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
  registerJetStreamLogMetrics(registry, log);

  let processor: ProcessorNode | undefined;
  let balancer: PartitionBalancer | undefined;
  // A node with both roles publishes its processors' alerts through its gateway; a processor-only node writes them to InfluxDB only.
  const alerts = roles.gateway ? new AlertRelay(logger) : undefined;
  const onAlert = alerts && ((t: AlertTransition) => alerts.send(t));
  if (roles.processors) {
    phase = 'restoring checkpoints';
    const onFatal = (err: Error): void => {
      // A bug, or (static partitions) another processor has claimed these: stop loudly; a supervisor restarts from the checkpoints.
      const { line, exitCode } = failureOf(err);
      logger.fatal({ err }, 'processor stopped');
      process.stderr.write(line);
      process.exit(exitCode);
    };
    const processorLogger = logger.child({ component: 'processor' });
    if (config.processors.partitions !== undefined) {
      const partitions = parsePartitionSet(config.processors.partitions, config.partitions);
      const store = await NatsCheckpointStore.open({ connection: log.connection, keep: config.checkpoint.keep, partitions, config: { replicas: nats.replicas } });
      processor = new ProcessorNode(config, { log, store, registry, logger: processorLogger, partitions, health, onSinkRefusal: (problem) => (sinkProblem = problem), onFatal, onAlert });
      await processor.start();
      logger.info({ partitions: config.processors.partitions }, 'processor claimed its partitions');
    } else {
      phase = 'joining the cluster';
      const joined = await joinCluster(config, log, registry, processorLogger, health, (problem) => (sinkProblem = problem), onFatal, onAlert);
      processor = joined.processor;
      balancer = joined.balancer;
    }
  }
  const gateway = roles.gateway ? await startGateway(config, { log, registry, logger, dataDir: config.dataDir, partitions: config.partitions, health }) : undefined;
  if (gateway) alerts?.attach(gateway);
  const role = roles.gateway && roles.processors ? 'start' : roles.gateway ? 'gateway' : 'processor';
  const stats = new StatsReporter({ config: config.stats, influx: config.influx, node: config.stats.node ?? `${hostname()}/${role}`, collect: () => registry.getMetricsAsJSON(), logger });
  stats.start();
  phase = undefined;
  const ports = { mqtt: gateway?.ports.tcp ?? 0, tls: gateway?.ports.tls, ws: gateway?.ports.ws, wss: gateway?.ports.wss, http: http.port };
  logger.info({ ports, dataDir: config.dataDir, stream: nats.stream, servers: nats.servers }, 'sluice ready');
  return {
    ports,
    reload: async () => {
      // The gateway's registry and ACL, and the processors' rules.file.
      if (gateway) await gateway.reload();
      await processor?.reloadRules();
    },
    stop: async () => {
      phase = 'stopping';
      stats.stop();
      // Publishes not yet in the stream are not acknowledged: their devices send them to another gateway.
      await gateway?.close();
      // Hands every partition over (final checkpoint, lease released) before leaving, so others take them at once.
      await balancer?.stop();
      await processor?.stop();
      await log.close();
      await lock.release();
      await http.close();
    },
  };
}

/**
 * Joins the processors that share the partitions (issue 14): a ProcessorNode with no
 * partitions of its own, a membership heartbeat, partition leases, and a balancer that
 * assigns this member its share. A partition taken over from a member that did not
 * release it is processed only after cluster.handoffGrace (default influx.timeout), so
 * the old holder's last write lands first. A lost lease discards that partition's output
 * at once (before the next write is sent); while any lease is stale the node writes
 * nothing (self-fencing).
 */
async function joinCluster(
  config: SluiceConfig,
  log: JetStreamLog,
  registry: Registry,
  logger: Logger,
  health: StorageHealth,
  onSinkRefusal: (problem: string | undefined) => void,
  onFatal: (err: Error) => void,
  onAlert: ((t: AlertTransition) => void) | undefined,
): Promise<{ processor: ProcessorNode; balancer: PartitionBalancer }> {
  const nats = config.nats!;
  const cluster = parseClusterConfig(config.cluster ?? {});
  const grace = cluster.handoffGrace ?? config.influx.timeout;
  const clock = new HealthClock();
  const connection = log.connection;
  const membership = await Membership.open({ connection, config: cluster, replicas: nats.replicas, clock, logger });
  const leases = await PartitionLeases.open({ connection, config: cluster, partitions: config.partitions, replicas: nats.replicas, clock, logger });
  const store = await NatsCheckpointStore.open({ connection, keep: config.checkpoint.keep, partitions: [], owner: cluster.memberId, config: { replicas: nats.replicas } });
  const writeGate = {
    isOpen: () => leases.allFresh(),
    whenOpen: () => new Promise<void>((resolve) => setTimeout(resolve, Math.min(100, cluster.heartbeatInterval))),
  };
  const processor = new ProcessorNode(config, {
    log,
    store,
    registry,
    logger,
    partitions: [],
    health,
    onSinkRefusal,
    onFatal,
    writeGate,
    // Another member claimed it (our lease lapsed while we were cut off): the balancer hears of it through the lease too.
    onFenced: (p) => store.release(p),
    onAlert,
  });
  // Synchronously, before the balancer's queue gets to abandon(): nothing of the partition is sent after this.
  leases.on('lost', (p) => processor.discardOutput(p));
  const host: PartitionHost = {
    assign: async (p, { afterFailure }) => {
      const since = performance.now(); // restore_seconds counts the claim too
      await store.claim(p);
      await processor.assign(p, afterFailure ? { notBefore: Date.now() + grace, since } : { since });
    },
    revoke: async (p) => {
      await processor.revoke(p);
      store.release(p);
    },
    revokeMany: async (ps) => {
      await processor.revoke(ps);
      for (const p of ps) store.release(p);
    },
    abandon: async (p) => {
      await processor.abandon(p);
      store.release(p);
    },
  };
  await processor.start();
  const balancer = new PartitionBalancer({ partitions: config.partitions, membership, leases, host, registry, interval: cluster.heartbeatInterval, logger });
  balancer.on('hostFailed', (err, p) => logger.warn({ err: err.message, partition: p }, 'could not take a partition on; its lease is released for another member'));
  balancer.start();
  logger.info({ member: cluster.memberId, members: membership.live() }, 'processor joined the cluster');
  return { processor, balancer };
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
