import { hostname } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { Backoff, createLogger, ExitCode, lockDataDir, StorageHealth, storageErrno, type DataDirLock, type Logger } from '../core/index.js';
import { startGateway, startHttpEndpoints } from '../gateway/index.js';
import { FileLog } from '../log/index.js';
import { aggregateMetrics, ProcessorPool } from '../processors/index.js';
import { AlertRelay } from './alert-relay.js';
import type { SluiceConfig } from './config-schema.js';
import { runClusterNode } from './run-cluster-node.js';
import { registerProcessMetrics } from './process-metrics.js';
import { StatsReporter } from './stats/stats-reporter.js';

/** A running sluice process, whatever its role. */
export interface RunningNode {
  ports: { mqtt: number; tls?: number; ws?: number; wss?: number; http: number };
  /** Reloads what can change at run time (the device registry and the ACL file). */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

/** Which parts a process runs: `start` runs both, `gateway` and `processor` one each. */
export interface NodeRoles {
  gateway: boolean;
  processors: boolean;
}

/**
 * Starts the embedded node: the HTTP endpoints (not ready yet), the FileLog under
 * dataDir/log, then the processors (which restore their checkpoints and replay the log),
 * then the gateway. The FileLog belongs to one process: `gateway` and `processor` alone
 * are for a log nobody else has open (distributed mode will share a JetStream log instead).
 *
 * Storage that refuses writes (full, read-only) is waited out, not fatal: /readyz says
 * 503 with the reason meanwhile (StorageHealth), and the start itself waits for a log it
 * cannot open yet, with /healthz, /readyz and /metrics already answering.
 */
export async function runNode(config: SluiceConfig, roles: NodeRoles = { gateway: true, processors: true }): Promise<RunningNode> {
  if (config.log.kind === 'jetstream') return runClusterNode(config, roles);
  const logger = createLogger('sluice');
  const registry = new Registry();
  registerProcessMetrics(registry);
  const health = new StorageHealth({ registry, logger });
  // Before HTTP, so a second process on this dataDir exits at once with the holder's pid
  // (not on a port clash); a dataDir that refuses the lock file is waited out with the log.
  let lock = await lockDataDirUnlessStorageRefuses(config.dataDir);
  let phase: string | undefined = 'starting';
  let processors: ProcessorPool | undefined = undefined;
  // This thread's registry merged with the processor threads': what /metrics and sluice_stats show.
  const merged = async (): Promise<Registry> => (processors ? aggregateMetrics(await registry.getMetricsAsJSON(), await processors.metrics()) : registry);
  const metrics = { contentType: registry.contentType, metrics: async () => (await merged()).metrics() };
  // Not ready while storage or InfluxDB refuses writes: problems that wait on an operator, not fatal ones.
  const http = await startHttpEndpoints(config.http, metrics, () => health.problem ?? processors?.sinkProblem ?? phase).catch(async (err: unknown) => {
    await lock?.release();
    throw err;
  });
  let log: FileLog;
  try {
    log = await openLogWhenStorageAllows(config, health, logger, http.port, async () => {
      lock ??= await lockDataDir(config.dataDir);
    });
  } catch (err) {
    await http.close();
    await lock?.release();
    throw err;
  }
  for (const r of log.recovery) logger.warn(r, 'log: dropped a torn tail left by a crash');
  const all = Array.from({ length: config.partitions }, (_, p) => p);
  // Alerts go out through this process's gateway (alerts/{device}/{rule}, retained), held until it runs.
  const alerts = roles.gateway ? new AlertRelay(logger) : undefined;
  processors = roles.processors
    ? new ProcessorPool(config, { log, logger: logger.child({ component: 'processor' }), dataDir: config.dataDir, partitions: all, health, onAlert: alerts && ((t) => alerts.send(t)) })
    : undefined;
  await processors?.start();
  // Appends go through the pool's view of the log, which wakes the processor threads.
  const gateway = roles.gateway ? await startGateway(config, { log: processors?.log ?? log, registry, logger, dataDir: config.dataDir, partitions: config.partitions, health }) : undefined;
  if (gateway) alerts?.attach(gateway);
  const stats = new StatsReporter({ config: config.stats, influx: config.influx, node: config.stats.node ?? `${hostname()}/${roles.gateway && roles.processors ? 'start' : roles.gateway ? 'gateway' : 'processor'}`, collect: async () => (await merged()).getMetricsAsJSON(), logger });
  stats.start();
  phase = undefined;
  const ports = { mqtt: gateway?.ports.tcp ?? 0, tls: gateway?.ports.tls, ws: gateway?.ports.ws, wss: gateway?.ports.wss, http: http.port };
  logger.info({ ports, dataDir: config.dataDir }, 'sluice ready');
  return {
    ports,
    reload: async () => {
      // The gateway's registry and ACL, and the processors' rules.file.
      if (gateway) await gateway.reload();
      processors?.reloadRules();
    },
    stop: async () => {
      phase = 'stopping';
      stats.stop();
      // Publishes waiting for a full disk are not acknowledged: their devices send them to the next process.
      log.abandonRetries();
      await gateway?.close();
      await processors?.stop();
      await log.close();
      await lock?.release();
      await http.close();
    },
  };
}

/**
 * Opens the FileLog, waiting with backoff while the storage refuses (a full disk that
 * needs a checkpoint written, a read-only remount): an operator who frees space or
 * remounts sees the node go on by itself. Any other error fails the start.
 */
async function openLogWhenStorageAllows(config: SluiceConfig, health: StorageHealth, logger: Logger, httpPort: number, lock: () => Promise<void>): Promise<FileLog> {
  const backoff = new Backoff(100, 5000);
  for (;;) {
    try {
      await lock();
      const log = await FileLog.open({ dir: join(config.dataDir, 'log'), partitions: config.partitions, ...config.log, health });
      health.recovered('log');
      return log;
    } catch (err) {
      if (storageErrno(err) === undefined) throw err;
      if (!health.isFailing('log')) logger.warn({ ports: { http: httpPort }, dataDir: config.dataDir }, 'sluice waiting for storage: the log cannot be opened yet; /readyz answers 503 until it can');
      health.failed('log', err);
      await new Promise((resolve) => setTimeout(resolve, backoff.next()));
    }
  }
}

/** The dataDir lock, or undefined when the storage refuses the lock file for now (read-only, full). */
async function lockDataDirUnlessStorageRefuses(dataDir: string): Promise<DataDirLock | undefined> {
  try {
    return await lockDataDir(dataDir);
  } catch (err) {
    if (storageErrno(err) === undefined) throw err;
    return undefined;
  }
}

/** Stops the node on SIGINT/SIGTERM (a second one exits at once); reloads it on SIGHUP. */
export function stopOnSignals(node: RunningNode): void {
  let stopping = false;
  const onSignal = (): void => {
    if (stopping) process.exit(ExitCode.interrupted);
    stopping = true;
    node.stop().then(
      () => process.exit(ExitCode.ok),
      (err: unknown) => {
        process.stderr.write(`sluice: error while stopping: ${String(err)}\n`);
        process.exit(ExitCode.failed);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // SIGHUP's default action ends the process (rc 129); daemons take it as "reload", as mosquitto does.
  process.on('SIGHUP', () => void node.reload());
}
