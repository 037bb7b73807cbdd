import { Aedes } from 'aedes';
import type { Registry } from 'prom-client';
import type { Logger, StorageHealth } from '../core/index.js';
import type { Log } from '../log/index.js';
import { AclRules, DeviceRegistry, createAuthenticator } from './auth/index.js';
import { installBrokerHooks } from './broker-hooks.js';
import { readBufferListsInPlace } from './buffer-list-reads.js';
import { ConnectPacer } from './connect-pacer.js';
import type { GatewayConfig } from './config.js';
import { ConnectionGate, socketBudget } from './connection-gate.js';
import { DeadLetterRecorder } from './dead-letters.js';
import { DeviceFlows } from './device-flow.js';
import { DecodePool } from './decode/index.js';
import { MappingRouter } from './mappings/index.js';
import { EdgeNodes, encodeRebirthRequest, ncmdTopic } from './sparkplug/index.js';
import { IdentityDevices } from './identity-devices.js';
import { IngestPipeline } from './ingest/ingest-pipeline.js';
import { SocketReadGate } from './ingest/socket-read-gate.js';
import { startListeners, type ListenerPorts } from './listeners.js';
import { createGatewayMetrics } from './metrics.js';
import { writePubacksWhole } from './puback-writes.js';
import { RefusalLog } from './refusal-log.js';
import { AuthReloader } from './reload/index.js';

/** A running gateway: MQTT listeners feeding the log. */
export interface Gateway {
  ports: ListenerPorts;
  /** Payload bytes accepted and not yet durable. */
  readonly inflightBytes: number;
  /** Reads the device registry and the ACL file again and applies them (SIGHUP); never throws. */
  reload(): Promise<void>;
  /**
   * Publishes a message of the gateway's own (alerts) to its subscribers at QoS 1,
   * retained when asked; subscribers' ACLs apply at delivery. Resolves once aedes took it.
   */
  publishOwn(topic: string, payload: Buffer, retain: boolean): Promise<void>;
  /** Stops accepting connections, makes everything accepted durable, and releases resources. */
  close(): Promise<void>;
}

export interface GatewayDeps {
  log: Log;
  registry: Registry;
  logger: Logger;
  dataDir: string;
  partitions: number;
  /** Where dead-letter writes the storage refuses are counted. */
  health?: StorageHealth;
}

/** Starts the gateway: aedes with Sluice's auth, ACL and ingest hooks, on the configured listeners. */
export async function startGateway(config: GatewayConfig, deps: GatewayDeps): Promise<Gateway> {
  readBufferListsInPlace();
  writePubacksWhole();
  const logger = deps.logger.child({ component: 'gateway' });
  const metrics = createGatewayMetrics(deps.registry);
  const verifiedCache = { maxEntries: config.auth.cache.size, ttlMs: config.auth.cache.ttl };
  const deviceRegistry = config.auth.mode === 'registry' ? await DeviceRegistry.load(config.auth.registry, { verifiedCache }) : undefined;
  const authenticator = createAuthenticator(config.auth, { registry: deviceRegistry, logger });
  const acl = config.acl.file ? await AclRules.load(config.acl.file) : AclRules.defaults();
  const deadLetters = await DeadLetterRecorder.open(deps.dataDir, config.deadLetters, deps.health);
  const pool = new DecodePool({ threads: config.decode.threads, maxQueue: config.decode.maxQueue, limits: { ...config.decode, mappings: config.ingest.mappings }, inlineMaxBytes: config.decode.inlineMaxBytes });
  const flows = new DeviceFlows(config.limits);
  const connects = new ConnectPacer({ perMinute: config.limits.connectsPerMinute, burst: config.limits.connectBurst });
  const readGate = new SocketReadGate(metrics.pausedConnections);
  const ingest = new IngestPipeline({
    flows,
    readGate,
    log: deps.log,
    pool,
    deadLetters,
    metrics,
    config: config.ingest,
    maxMetricsPerDevice: config.decode.maxMetricsPerDevice,
    maxSeriesPerDevice: config.decode.maxSeriesPerDevice,
    logger,
  });

  const broker = new Aedes({
    connectTimeout: config.mqtt.connectTimeout,
    // Not aedes' keepaliveLimit: it refuses with CONNACK 6, which MQTT 3.1.1 does not have.
    // broker-hooks applies mqtt.keepaliveLimit instead.
    // Telemetry subscribers (service accounts) must not stall ingest for everyone.
    drainTimeout: 30_000,
  });
  await broker.listen();
  const refusals = new RefusalLog(logger);
  // Rebirth requests go out through the broker like any publish: the edge node receives
  // them on its NCMD subscription (the default ACL lets it subscribe).
  const sparkplug = config.ingest.sparkplug
    ? new EdgeNodes({
        timestampSkewPastMs: config.decode.timestampSkewPastMs,
        timestampSkewFutureMs: config.decode.timestampSkewFutureMs,
        requestRebirth(group, edge, reason, why) {
          metrics.sparkplugRebirths.inc({ reason });
          logger.info({ group, edge, why }, 'Sparkplug B: rebirth requested');
          const packet = { cmd: 'publish' as const, topic: ncmdTopic(group, edge), payload: Buffer.from(encodeRebirthRequest(Date.now())), qos: 0 as const, retain: false, dup: false };
          broker.publish(packet, (err) => {
            if (err) logger.warn({ err, group, edge }, 'Sparkplug B: rebirth request not published');
          });
        },
      })
    : undefined;
  const sessions = installBrokerHooks(broker, {
    authenticator,
    acl,
    ingest,
    mappings: new MappingRouter(config.ingest.mappings),
    sparkplug,
    partitions: deps.partitions,
    devices: new IdentityDevices(config.decode.maxDevicesPerIdentity),
    flows,
    connects,
    maxConnections: config.mqtt.maxConnections,
    keepaliveLimit: config.mqtt.keepaliveLimit,
    certificateIdentity: config.mqtt.tls?.ca === undefined ? undefined : config.mqtt.tls.identity,
    metrics,
    refusals,
    logger,
  });
  const reloader = new AuthReloader({
    registry: deviceRegistry,
    aclFile: config.acl.file,
    sessions,
    metrics,
    logger,
    watch: config.auth.reload.watch,
    debounceMs: config.auth.reload.debounce,
  });
  broker.on('clientError', (client, err) => logger.debug({ clientId: client.id, err: err.message }, 'client error'));
  broker.on('connectionError', (client, err) => logger.debug({ clientId: client.id, err: err.message }, 'connection error'));

  const fds = await socketBudget(config.mqtt.reservedFds);
  const maxSockets = Math.min(config.mqtt.maxConnections, fds.budget);
  if (maxSockets < config.mqtt.maxConnections) {
    logger.warn(
      { maxConnections: config.mqtt.maxConnections, maxSockets, fdLimit: fds.fdLimit, fdsOpen: fds.fdsOpen, reservedFds: config.mqtt.reservedFds },
      `mqtt.maxConnections ${config.mqtt.maxConnections} is above what ${fds.fdLimit} file descriptors allow; MQTT sockets are capped at ${maxSockets}: raise the limit (ulimit -n) or lower mqtt.maxConnections`,
    );
  }
  const gate = new ConnectionGate(maxSockets, config.mqtt.maxPendingPerAddress);
  const listeners = await startListeners(broker, config.mqtt, gate, readGate, {
    violation: (reason) => metrics.connectionsClosed.inc({ reason }),
    refused: (reason) => metrics.connectionsRefused.inc({ reason }),
  });
  logger.info({ ports: listeners.ports, auth: config.auth.mode }, 'gateway listening');

  return {
    ports: listeners.ports,
    get inflightBytes() {
      return ingest.inflightBytes;
    },
    reload: () => reloader.reload(),
    publishOwn: (topic, payload, retain) =>
      new Promise<void>((resolve, reject) => broker.publish({ cmd: 'publish', topic, payload, qos: 1, retain, dup: false }, (err) => (err ? reject(err) : resolve()))),
    close: async () => {
      await reloader.close();
      sessions.refuseHeld();
      const closingListeners = listeners.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await closingListeners;
      await ingest.close();
      await pool.close();
      await deadLetters.close();
      refusals.close();
      logger.info('gateway stopped');
    },
  };
}
