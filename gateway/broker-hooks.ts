import type { Aedes, AuthenticateError, Client, PublishPacket } from 'aedes';
import { AclDeniedError, AuthBusyError, AuthRefusedError, ProtocolViolationError, type Logger } from '../core/index.js';
import { keyGroupOf } from '../routing/index.js';
import { isValidDeviceId, type AclRules, type Authenticator, type DeviceIdentity } from './auth/index.js';
import { statusJob, type DeviceStatusChange, type JobKind, type MappedPayload } from './decode/index.js';
import type { DeviceFlow, DeviceFlows } from './device-flow.js';
import type { IngestPipeline } from './ingest/ingest-pipeline.js';
import type { MappedTopic, MappingRouter } from './mappings/index.js';
import type { IdentityDevices } from './identity-devices.js';
import type { GatewayMetrics } from './metrics.js';
import { certificateIdentityOf, type CertificateIdentityField } from './client-certificate.js';
import { MAX_CONNECT_HOLD_MS, type ConnectPacer } from './connect-pacer.js';
import type { RefusalLog } from './refusal-log.js';
import { restoreAnsweredQos } from './puback-writes.js';
import { parseSparkplugTopic, SPARKPLUG_NAMESPACE, type EdgeNodes, type SparkplugTopic } from './sparkplug/index.js';
import { sourceAddressOf } from './source-address.js';
import { newRouteCheck, UnroutedPublishes, type RouteCheck } from './unrouted-publishes.js';

/** What the gateway knows about a connected client, computed once at CONNECT. */
interface Session {
  identity: DeviceIdentity;
  partition: number;
  telemetryTopic: string;
  jsonTopic: string;
  /** The ACL's answer for the client's own telemetry topics, cached: it is asked per message. */
  ownTelemetryAllowed: boolean;
  ownJsonAllowed: boolean;
  /** True when a deny rule applies to the client: its deliveries are then checked per message. */
  checkDeliveries: boolean;
  /**
   * True once the ACL was reloaded while the client was connected: subscriptions granted
   * under the old rules are checked against the new ones per delivery (`canRead`).
   */
  recheckReads: boolean;
  /** The rules the cached answers come from. */
  rules: AclRules;
  /** The device's flow limits (shared with its other connections), once the connection is registered; undefined when limits are off. */
  flow: DeviceFlow | undefined;
  /**
   * The mapped topic this client was last allowed to publish on, with its device and job
   * kind: a device publishes on one topic, so the match and the checks run once, not per
   * message. Cleared when the ACL changes (a deny rule may now match it).
   */
  lastMapped: { topic: string; device: string; kind: MappedPayload } | undefined;
  /**
   * The Sparkplug B topics this client was allowed to publish on, parsed (or why one maps
   * to no device id): an edge node publishes on a few topics per device. Cleared when the
   * ACL changes, and when it grows past SPARKPLUG_TOPICS_CACHED.
   */
  sparkplugTopics: Map<string, SparkplugTopic | string>;
  /** QoS 2 packet ids whose first copy is being ingested, see `onceUnreleased`. */
  qos2Ingesting: Map<number, Promise<void>>;
  /** Whether the topic it last published on has subscribers (UnroutedPublishes). */
  route: RouteCheck;
}

/** A publish's arguments to IngestPipeline.submit, held while it waits for its turn. */
interface SubmittedPublish {
  device: string;
  partition: number;
  tags: string;
  kind: JobKind;
  payload: Buffer;
  qos: number;
  /** The packet of a QoS 1 publish the gateway answers itself (answerPublishes). */
  packet: PublishPacket | undefined;
}

export interface BrokerHooksOptions {
  authenticator: Authenticator;
  /** The ACL at start; `SessionControl.setAcl` replaces it. */
  acl: AclRules;
  ingest: IngestPipeline;
  /** ingest.mappings: topics whose JSON payloads are telemetry besides the native ones. */
  mappings: MappingRouter;
  /** ingest.sparkplug: the edge nodes' state; undefined when Sparkplug B ingest is off. */
  sparkplug?: EdgeNodes;
  partitions: number;
  /** The device ids each identity publishes for besides its own, bounded (decode.maxDevicesPerIdentity). */
  devices: IdentityDevices;
  flows: DeviceFlows;
  /** Paces each device's CONNECTs (limits.connectsPerMinute). */
  connects: ConnectPacer;
  maxConnections: number;
  /** mqtt.keepaliveLimit, seconds. */
  keepaliveLimit: number;
  /** mqtt.tls.identity when mqtt.tls.ca is set (client certificates are verified), else undefined. */
  certificateIdentity?: CertificateIdentityField;
  metrics: GatewayMetrics;
  /** Where auth, ACL and protocol refusals are logged, rate limited per reason. */
  refusals: RefusalLog;
  logger: Logger;
}

const TELEMETRY = /^devices\/([^/]+)\/telemetry(\/json)?$/;
const SPARKPLUG_PREFIX = `${SPARKPLUG_NAMESPACE}/`;
const SPARKPLUG_TOPICS_CACHED = 256;
const NO_PAYLOAD = new Uint8Array(0);
const ignoreDone = (): void => {};

/** What a reload of the registry or the ACL does to the connected clients. */
export interface SessionControl {
  /** Applies new ACL rules to new publishes and subscriptions, and to deliveries of existing subscriptions. */
  setAcl(acl: AclRules): void;
  /** Closes every connection whose identity the authenticator no longer stands by; returns their client ids. */
  closeStale(): string[];
  /** Answers every CONNECT still held for its turn with CONNACK 3 (shutdown), so the listeners can close. */
  refuseHeld(): void;
}

/** Installs authentication, ACL and the telemetry ingest path on an aedes broker. */
export function installBrokerHooks(broker: Aedes, o: BrokerHooksOptions): SessionControl {
  const sessions = new WeakMap<Client, Session>();
  let acl = o.acl;
  const persistentWithoutId = new WeakSet<Client>();
  /** CONNECTs whose CONNACK waits for the device's turn (ConnectPacer), with how to refuse each. */
  const held = new Map<Client, { timer: NodeJS.Timeout; refuse: () => void }>();

  // A client's publish that nobody subscribes to is done once authorized (ingested, for
  // telemetry): aedes' routing would find no one to deliver it to.
  const unrouted = new UnroutedPublishes(broker);
  const route = broker.publish.bind(broker);
  broker.publish = ((packet: PublishPacket, client: Client | null | ((err?: Error) => void), done?: (err?: Error) => void) => {
    const session = client && typeof client === 'object' ? sessions.get(client) : undefined;
    // Before aedes copies it for its subscribers: a QoS 1 publish stays QoS 1 for them.
    restoreAnsweredQos(packet);
    if (session !== undefined && done !== undefined && unrouted.skippable(session.route, packet)) return done();
    return (route as (...a: unknown[]) => void)(packet, client, done);
  }) as Aedes['publish'];

  broker.preConnect = (client, packet, callback) => {
    // [MQTT-3.1.3-8]: an empty client id requires CleanSession = 1; aedes would invent an id.
    if (packet.clientId === '' && !packet.clean) persistentWithoutId.add(client);
    // [MQTT-3.1.2-14]: Will QoS 3 is a protocol violation; the connection is closed without
    // CONNACK (aedes closes it on this error).
    if (packet.will && (packet.will.qos as number) > 2) {
      const err = new ProtocolViolationError(`CONNECT with Will QoS ${packet.will.qos}; use Will QoS 0, 1 or 2`);
      o.metrics.connectionsRefused.inc({ reason: 'will_qos_invalid' });
      o.refusals.refused('will_qos_invalid', { clientId: packet.clientId, address: sourceAddressOf(client.conn) }, `connection refused: ${err.message}`);
      return callback(err, false);
    }
    // MQTT 3.1.1 has no way to tell a client the server's keep-alive (5.0 has Server Keep
    // Alive), and refusing leaves a device retrying the same CONNECT forever (aedes'
    // keepaliveLimit answers CONNACK 6, not a 3.1.1 code). So keep-alive 0 (none) or above
    // the limit gets the limit applied: a device that talks at least that often works as
    // before, a silent connection is closed after 1.5 × the limit [MQTT-3.1.2-24].
    if (!packet.keepalive || packet.keepalive > o.keepaliveLimit) packet.keepalive = o.keepaliveLimit;
    callback(null, true);
  };

  broker.authenticate = (client, username, password, callback) => {
    const refuse = (reason: string, returnCode: 2 | 3 | 4 | 5, message: string): void => {
      o.metrics.connectionsRefused.inc({ reason });
      o.refusals.refused(reason, { clientId: client.id, username, address: sourceAddressOf(client.conn), returnCode }, `connection refused (CONNACK ${returnCode}): ${message}`);
      const err = new AuthRefusedError(message) as unknown as AuthenticateError;
      (err as { returnCode: number }).returnCode = returnCode;
      callback(err, false);
    };
    if (persistentWithoutId.has(client)) {
      refuse('identifier_rejected', 2, 'an empty client id needs clean session; set a client id or clean=true');
      return;
    }
    if (broker.connectedClients >= o.maxConnections) {
      refuse('max_connections', 3, `connection limit ${o.maxConnections} reached`);
      return;
    }
    const certificateId = o.certificateIdentity === undefined ? undefined : certificateIdentityOf(client.conn, o.certificateIdentity);
    const context = { address: sourceAddressOf(client.conn), connected: () => !client.conn.destroyed, certificateId };
    o.authenticator.authenticate(client.id, username, password, context).then(
      (identity) => {
        const accept = (): void => {
          // Checked when the CONNACK goes out: a held CONNECT's client may have gone, or
          // another connection may hold the session by now.
          if (client.conn.destroyed) {
            refuse('client_gone', 3, `device ${JSON.stringify(identity.id)} disconnected before its CONNACK`);
            return;
          }
          const takeover = deviceSessionTakeover(broker, sessions, client, identity);
          if (takeover !== undefined) {
            refuse('client_id_reserved', 2, takeover);
            return;
          }
          sessions.set(client, newSession(client, identity, acl, o.partitions));
          callback(null, true);
        };
        // Services may run many clients under one identity; the pace is per device.
        const wait = identity.role === 'device' ? o.connects.take(identity.id) : 0;
        if (wait === 0) accept();
        else if (wait > 0) {
          o.metrics.connectsHeld.inc();
          const timer = setTimeout(() => {
            held.delete(client);
            accept();
          }, wait);
          held.set(client, { timer, refuse: () => refuse('shutting_down', 3, 'the gateway is shutting down; connect again') });
        } else {
          refuse('connect_rate', 3, `device ${JSON.stringify(identity.id)} reconnects faster than limits.connectsPerMinute allows, with over ${MAX_CONNECT_HOLD_MS / 1000} s of CONNECTs waiting; retry later, or raise limits.connectsPerMinute`);
        }
      },
      (err: unknown) => {
        if (err instanceof AuthRefusedError || err instanceof AuthBusyError) refuse(err.reason, err.returnCode, err.message);
        else {
          o.logger.error({ err, clientId: client.id }, 'authentication failed unexpectedly');
          refuse('auth_error', 3, 'authentication is unavailable');
        }
      },
    );
  };

  broker.authorizePublish = (client, packet, callback) => {
    if (!client) return callback(null); // a will published by the broker itself
    const session = sessions.get(client);
    if (!session) return callback(new ProtocolViolationError('PUBLISH before the session was authenticated'));
    // aedes authorizes a client's will with the client's own will object when the connection
    // ends; a will has no packet id at any QoS [MQTT-3.1.2-8] and goes the same way as a publish.
    const isWill = packet === (client as Client & { will: unknown }).will;
    // [MQTT-2.3.1-1]: QoS 1 and 2 PUBLISH packets carry a non-zero packet identifier.
    if (!isWill && packet.qos > 0 && !packet.messageId) {
      o.metrics.publishesRefused.inc({ reason: 'packet_id_zero' });
      o.refusals.refused('packet_id_zero', { clientId: client.id, topic: packet.topic }, 'publish refused, connection closed: QoS>0 PUBLISH with packet identifier 0');
      return callback(new ProtocolViolationError('QoS>0 PUBLISH with packet identifier 0'));
    }
    const topic = packet.topic;
    let device: string;
    let kind: JobKind;
    let mapped: MappedTopic | undefined;
    let sparkplug: SparkplugTopic | string | undefined;
    const last = session.lastMapped;
    if (topic === session.telemetryTopic && session.ownTelemetryAllowed) {
      device = session.identity.id;
      kind = 'protobuf';
    } else if (topic === session.jsonTopic && session.ownJsonAllowed) {
      device = session.identity.id;
      kind = 'json';
    } else if (last !== undefined && topic === last.topic) {
      device = last.device;
      kind = last.kind;
    } else if (o.sparkplug !== undefined && topic.startsWith(SPARKPLUG_PREFIX) && (sparkplug = sparkplugTopicOf(session, topic)) !== undefined) {
      const denied = session.sparkplugTopics.has(topic) ? undefined : sparkplugDenial(session.identity, client.id, topic, acl);
      if (denied !== undefined) {
        const err = new AclDeniedError(`client ${client.id} may not publish to ${topic}: ${denied}`);
        o.metrics.publishesRefused.inc({ reason: 'acl_publish' });
        o.refusals.refused('acl_publish', { clientId: client.id, username: session.identity.id, topic }, `publish refused, connection closed: ${err.message}`);
        return callback(err);
      }
      if (session.sparkplugTopics.size >= SPARKPLUG_TOPICS_CACHED) session.sparkplugTopics.clear();
      session.sparkplugTopics.set(topic, sparkplug);
      packet.retain = false; // as for all telemetry, below
      if (typeof sparkplug === 'string') {
        // The publish is fine, its ids are not Sluice's: counted and dead-lettered, not closed.
        o.ingest.refuse(session.identity.id, 'sparkplug_topic_invalid', packet.payload as Buffer, `${topic}: ${sparkplug}`);
        return callback(null);
      }
      const job = o.sparkplug.admit(sparkplug, packet.payload as Buffer);
      // Births and deaths are status changes, for the log like readings: each to its device's
      // partition, before the message's readings. With no readings (deaths, births without
      // data metrics) the last change carries the publish, so it is acknowledged once durable.
      const changes = o.sparkplug.takeStatusChanges();
      const ahead = job === undefined ? changes.length - 1 : changes.length;
      for (let k = 0; k < ahead; k++) submitStatus(session, changes[k]!);
      if (job !== undefined) {
        device = sparkplug.deviceId;
        kind = job;
      } else if (changes.length > 0) {
        device = changes[ahead]!.device;
        kind = statusJob(changes[ahead]!);
      } else {
        return callback(null); // a stale NDEATH, or one of a node this gateway saw no message of
      }
    } else if (!topic.startsWith('$') && (mapped = o.mappings.match(topic)) !== undefined) {
      const denied = mappedDenial(session.identity, client.id, topic, mapped, acl);
      if (denied !== undefined) {
        const err = new AclDeniedError(`client ${client.id} may not publish to ${topic}: ${denied}`);
        o.metrics.publishesRefused.inc({ reason: 'acl_publish' });
        o.refusals.refused('acl_publish', { clientId: client.id, username: session.identity.id, topic, mapping: mapped.rules.name }, `publish refused, connection closed: ${err.message}`);
        return callback(err);
      }
      device = mapped.device;
      kind = { mapping: mapped.rules.index, name: mapped.rules.name, topic };
      session.lastMapped = { topic, device, kind };
    } else {
      if (topic.startsWith('$') || !acl.canPublish(session.identity, client.id, topic)) {
        const err = new AclDeniedError(`client ${client.id} may not publish to ${topic}`);
        o.metrics.publishesRefused.inc({ reason: 'acl_publish' });
        o.refusals.refused('acl_publish', { clientId: client.id, username: session.identity.id, topic }, `publish refused by the ACL, connection closed: ${err.message}`);
        return callback(err);
      }
      const match = TELEMETRY.exec(topic);
      if (!match) return callback(null); // ordinary MQTT traffic the ACL allows
      device = match[1]!;
      kind = match[2] ? 'json' : 'protobuf';
    }
    const payload = packet.payload as Buffer;
    if (device !== session.identity.id && !otherDeviceAdmitted(client, session, device, payload)) return callback(null);
    // Telemetry is a stream, not a state: a retained copy would sit in broker memory per
    // topic and be replayed to every new subscriber. The flag is dropped rather than the
    // publish refused (3.1.1 has no negative PUBACK; refusing closes the connection and
    // loses the reading), a deliberate departure from [MQTT-3.3.1-5].
    packet.retain = false;
    const partition = device === session.identity.id ? session.partition : keyGroupOf(device, o.partitions);
    const tags = device === session.identity.id ? session.identity.tagString : '';
    const qos2 = packet.qos === 2 && !isWill;
    // The common case (no flow limits, QoS 0 or 1) allocates no closure per message, and
    // no context either: the closures of the other cases live in submitPacedOrOnce.
    // A QoS 1 publish is answered by the gateway once durable (answerPublishes); a will has no PUBACK.
    const answered = packet.qos === 1 && !isWill ? packet : undefined;
    if (!qos2 && session.flow === undefined) return o.ingest.submit(device, partition, tags, kind, payload, packet.qos, callback, client, answered);
    submitPacedOrOnce(client, session, { device, partition, tags, kind, payload, qos: packet.qos, packet: answered }, qos2 ? packet.messageId! : undefined, callback);
  };

  /** The publish's submit under the device's flow limits, and for QoS 2 once per packet id (see onceUnreleased). */
  function submitPacedOrOnce(client: Client, session: Session, p: SubmittedPublish, qos2MessageId: number | undefined, callback: (err?: Error | null) => void): void {
    const ingest = (done: typeof callback): void => {
      const flow = session.flow;
      if (!flow) return o.ingest.submit(p.device, p.partition, p.tags, p.kind, p.payload, p.qos, done, client, p.packet);
      const delay = flow.delayFor(p.payload.byteLength);
      if (delay > 0) o.metrics.rateLimited.inc();
      flow.pacer.schedule(delay, () => o.ingest.submit(p.device, p.partition, p.tags, p.kind, p.payload, p.qos, done, client, p.packet));
    };
    if (qos2MessageId !== undefined) onceUnreleased(broker, client, session, qos2MessageId, ingest, callback);
    else ingest(callback);
  }

  /**
   * Admits a device id other than the identity's own under decode.maxDevicesPerIdentity;
   * a new one past it is refused before PUBACK: counted, dead-lettered and logged (rate
   * limited), the publish answered as accepted (3.1.1 has no negative PUBACK).
   */
  function otherDeviceAdmitted(client: Client, session: Session, device: string, payload: Uint8Array): boolean {
    if (o.devices.admit(session.identity.id, device)) return true;
    const why = `${session.identity.id} already publishes for ${o.devices.limit} devices besides its own; raise decode.maxDevicesPerIdentity to take more`;
    o.ingest.refuse(device, 'device_limit', payload, why);
    o.refusals.refused('device_limit', { clientId: client.id, username: session.identity.id, device }, `publish for new device ${device} refused: ${why}`);
    return false;
  }

  /** Sends a status change to the log on its own: no publish waits for it (QoS 0), and it is not paced. */
  function submitStatus(session: Session, change: DeviceStatusChange): void {
    // A device past the allowance gets no status either; the publish carrying the change
    // names that device too and is refused (and counted) below, in authorizePublish.
    if (change.device !== session.identity.id && !o.devices.admit(session.identity.id, change.device)) return;
    const partition = change.device === session.identity.id ? session.partition : keyGroupOf(change.device, o.partitions);
    const tags = change.device === session.identity.id ? session.identity.tagString : '';
    o.ingest.submit(change.device, partition, tags, statusJob(change), NO_PAYLOAD, 0, ignoreDone);
  }

  broker.authorizeSubscribe = (client, subscription, callback) => {
    const session = sessions.get(client);
    if (session && acl.canSubscribe(session.identity, client.id, subscription.topic)) return callback(null, subscription);
    o.metrics.subscriptionsRefused.inc({ reason: 'acl_subscribe' });
    o.refusals.refused('acl_subscribe', { clientId: client.id, username: session?.identity.id, topic: subscription.topic }, `subscription refused by the ACL (SUBACK 0x80): client ${client.id} may not subscribe to ${subscription.topic}`);
    // A null subscription makes aedes answer SUBACK 0x80 (failure) for this filter [MQTT-3.9.3-2].
    callback(null, null);
  };

  // A subscription granted while a deny rule covers part of it (`#` with `topic deny
  // secret/#`) must not deliver the denied topics: checked per message, only for clients
  // a deny rule applies to, so everyone else pays nothing.
  broker.authorizeForward = (client, packet) => {
    const session = sessions.get(client);
    if (session?.recheckReads) return acl.canRead(session.identity, client.id, packet.topic) ? packet : null;
    if (!session?.checkDeliveries || acl.canReceive(session.identity, client.id, packet.topic)) return packet;
    return null;
  };

  // Registered ('client') and unregistered ('clientDisconnect') come in pairs per Client;
  // publishes are only handled after registration (aedes queues them until CONNACK).
  broker.on('client', (client) => {
    const session = sessions.get(client);
    // Authenticated before a reload and registered after it: closeStale did not see it.
    if (session && !o.authenticator.isCurrent(session.identity)) {
      closeRevoked(client);
      return;
    }
    if (session && session.rules !== acl) {
      applyAcl(session, client, acl);
      session.recheckReads = true;
    }
    if (session && o.flows.enabled) session.flow = o.flows.attach(session.identity.id);
  });
  broker.on('clientReady', (client) => {
    o.metrics.connections.set(broker.connectedClients);
    o.logger.debug({ clientId: client.id, device: sessions.get(client)?.identity.id, address: sourceAddressOf(client.conn) }, 'client connected');
  });
  broker.on('clientDisconnect', (client) => {
    o.metrics.connections.set(broker.connectedClients);
    o.logger.debug({ clientId: client.id }, 'client disconnected');
    const session = sessions.get(client);
    if (session?.flow) {
      session.flow = undefined;
      o.flows.detach(session.identity.id);
    }
  });

  const connected = (): Client[] => Object.values((broker as unknown as { clients: Record<string, Client | undefined> }).clients).filter((c) => c !== undefined);
  return {
    setAcl(next) {
      acl = next;
      for (const client of connected()) {
        const session = sessions.get(client);
        if (!session) continue;
        applyAcl(session, client, next);
        session.recheckReads = true;
      }
    },
    closeStale() {
      const closed: string[] = [];
      for (const client of connected()) {
        const session = sessions.get(client);
        if (!session || o.authenticator.isCurrent(session.identity)) continue;
        closed.push(client.id);
        closeRevoked(client);
      }
      return closed;
    },
    refuseHeld() {
      for (const { timer, refuse } of held.values()) {
        clearTimeout(timer);
        refuse();
      }
      held.clear();
    },
  };
}

/**
 * Why a non-device identity may not take this client id: a device is connected with it
 * (issue 10, defect 9). aedes closes the older of two connections with one client id
 * [MQTT-3.1.4-2], so admitting the newcomer would disconnect the device and hand its
 * session to someone else. The registry rule (registry-authenticator.ts) already refuses
 * registered ids; this covers every mode and a device whose entry was removed while it was
 * connected. A device reconnecting under its own id is the normal takeover and allowed.
 */
function deviceSessionTakeover(broker: Aedes, sessions: WeakMap<Client, Session>, client: Client, identity: DeviceIdentity): string | undefined {
  if (identity.role === 'device') return undefined;
  const holder = (broker as unknown as { clients: Record<string, Client | undefined> }).clients[client.id];
  const held = holder === undefined || holder === client ? undefined : sessions.get(holder);
  if (held?.identity.role !== 'device') return undefined;
  return `service "${identity.id}" connected with client id "${client.id}", which device "${held.identity.id}" is connected with: use a client id of its own`;
}

/**
 * Why this client may not publish to a mapped topic, or undefined when it may. The mapping
 * is the grant, as the default rules grant devices/%u/telemetry: a device may publish only
 * for its own id (the topic's device level), a service for any device; an ACL deny rule
 * that matches the topic still refuses it.
 */
function mappedDenial(identity: DeviceIdentity, clientId: string, topic: string, mapped: MappedTopic, acl: AclRules): string | undefined {
  const mapping = mapped.rules.name;
  if (!isValidDeviceId(mapped.device)) return `mapping "${mapping}" reads device id ${JSON.stringify(mapped.device)} from the topic, which is not a valid device id`;
  if (identity.role === 'device' && mapped.device !== identity.id) return `mapping "${mapping}" reads device "${mapped.device}" from the topic; device "${identity.id}" may publish only under its own id`;
  if (acl.deniesPublish(identity, clientId, topic)) return 'an ACL deny rule matches the topic';
  return undefined;
}

/** The parsed Sparkplug B topic (cached per session), why it maps to no device id, or undefined when Sluice does not ingest it. */
function sparkplugTopicOf(session: Session, topic: string): SparkplugTopic | string | undefined {
  return session.sparkplugTopics.get(topic) ?? parseSparkplugTopic(topic);
}

/**
 * Why this client may not publish to a Sparkplug B topic Sluice ingests, or undefined
 * when it may. The ingest is the grant, as for mapped topics: an edge node authenticates
 * with its edge node id as username and may publish only `spBv1.0/+/+/{its id}[/+]`; a
 * service any; an ACL deny rule that matches the topic still refuses it.
 */
function sparkplugDenial(identity: DeviceIdentity, clientId: string, topic: string, acl: AclRules): string | undefined {
  const edge = topic.split('/')[3];
  if (identity.role === 'device' && edge !== identity.id) return `the topic's edge node is ${JSON.stringify(edge)}; edge node "${identity.id}" may publish only under its own id`;
  if (acl.deniesPublish(identity, clientId, topic)) return 'an ACL deny rule matches the topic';
  return undefined;
}

/** The part of aedes' persistence (not in its types) that holds unreleased QoS 2 packets. */
interface IncomingStore {
  incomingGetPacket(client: Client, packet: { messageId: number }): Promise<unknown>;
}

/**
 * [MQTT-4.3.3-2]: until the PUBREL, a QoS 2 PUBLISH re-sent with the same packet id gets a
 * PUBREC and must not be delivered again. aedes makes that check (its incoming store) only
 * *after* authorizePublish, where Sluice ingests, so it is made here first: a packet id in
 * the store is unreleased, and the copy is passed to aedes without ingesting, which answers
 * PUBREC and does not publish it. A copy that arrives while the first is still being
 * ingested (same socket read: aedes handles a read's packets concurrently) waits for it,
 * and is passed on a turn later, when aedes has stored the first.
 */
function onceUnreleased(
  broker: Aedes,
  client: Client,
  session: Session,
  messageId: number,
  ingest: (done: (err?: Error | null) => void) => void,
  callback: (err?: Error | null) => void,
): void {
  const first = session.qos2Ingesting.get(messageId);
  if (first) {
    first.then(() => setImmediate(callback, null), (err: Error) => callback(err));
    return;
  }
  let settle!: (err?: Error | null) => void;
  const ingested = new Promise<void>((resolve, reject) => {
    settle = (err) => (err ? reject(err) : resolve());
  });
  ingested.catch(() => {}); // the error reaches aedes through callback; waiters see it too
  session.qos2Ingesting.set(messageId, ingested);
  const done = (err?: Error | null): void => {
    session.qos2Ingesting.delete(messageId);
    settle(err);
    callback(err);
  };
  const persistence = (broker as Aedes & { persistence: IncomingStore }).persistence;
  persistence.incomingGetPacket(client, { messageId }).then(
    () => done(null),
    () => ingest(done),
  );
}

function newSession(client: Client, identity: DeviceIdentity, acl: AclRules, partitions: number): Session {
  const telemetryTopic = `devices/${identity.id}/telemetry`;
  const session: Session = {
    identity,
    partition: keyGroupOf(identity.id, partitions),
    telemetryTopic,
    jsonTopic: `${telemetryTopic}/json`,
    ownTelemetryAllowed: false,
    ownJsonAllowed: false,
    checkDeliveries: false,
    recheckReads: false,
    rules: acl,
    flow: undefined,
    lastMapped: undefined,
    sparkplugTopics: new Map(),
    qos2Ingesting: new Map(),
    route: newRouteCheck(),
  };
  applyAcl(session, client, acl);
  return session;
}

/** The ACL answers a session caches. */
function applyAcl(session: Session, client: Client, acl: AclRules): void {
  session.rules = acl;
  session.lastMapped = undefined;
  session.sparkplugTopics.clear();
  session.ownTelemetryAllowed = acl.canPublish(session.identity, client.id, session.telemetryTopic);
  session.ownJsonAllowed = acl.canPublish(session.identity, client.id, session.jsonTopic);
  session.checkDeliveries = acl.hasDenyFor(session.identity);
}

/**
 * Closes a connection whose credentials were revoked or changed. Its will is dropped: the
 * device did not vanish, the gateway sent it away, and a removed device must not get one
 * last publish in. Its next CONNECT is judged by the registry as it is now.
 */
function closeRevoked(client: Client): void {
  (client as Client & { will: unknown }).will = null;
  client.close();
}
