import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CountedHistogram } from './counted-histogram.js';

/** The gateway's Prometheus metrics, registered on `registry`. */
export function createGatewayMetrics(registry: Registry) {
  const registers = [registry];
  return {
    connections: new Gauge({ name: 'sluice_gateway_connections', help: 'Connected MQTT clients', registers }),
    // Three refusal counters, not one: a denied publish leaves the client connected (or
    // closes a connection that was accepted), which is not the same alarm as clients that
    // cannot connect at all.
    connectionsRefused: new Counter({
      name: 'sluice_gateway_connections_refused_total',
      help: 'Connections refused before a session exists (at accept, or the CONNECT), by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    connectionsClosed: new Counter({
      name: 'sluice_gateway_connections_closed_total',
      help: 'Connections the packet guard closed (packet too large or too slow, invalid topic), by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    publishesRefused: new Counter({
      name: 'sluice_gateway_publishes_refused_total',
      help: 'PUBLISH packets refused (the ACL, a QoS>0 packet id 0), by reason; aedes closes the connection',
      labelNames: ['reason'] as const,
      registers,
    }),
    subscriptionsRefused: new Counter({
      name: 'sluice_gateway_subscriptions_refused_total',
      help: 'Subscription filters refused with SUBACK 0x80 (the ACL), by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    messages: new Counter({
      name: 'sluice_gateway_messages_total',
      help: 'Telemetry payloads received, by payload kind',
      labelNames: ['kind'] as const,
      registers,
    }),
    readings: new Counter({ name: 'sluice_gateway_readings_total', help: 'Readings accepted into the log', registers }),
    sparkplugRebirths: new Counter({
      name: 'sluice_gateway_sparkplug_rebirths_total',
      help: 'Sparkplug B rebirth requests (NCMD Node Control/Rebirth) sent to edge nodes, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    rejects: new Counter({
      name: 'sluice_gateway_rejected_total',
      help: 'Payloads rejected and dead-lettered, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    decodeBatchMessages: new Histogram({
      name: 'sluice_gateway_decode_batch_messages',
      help: 'Payloads per decode micro-batch',
      buckets: [1, 4, 16, 64, 256, 1024, 4096, 16384],
      registers,
    }),
    decodeSeconds: new Histogram({
      name: 'sluice_gateway_decode_seconds',
      help: 'Time from handing a micro-batch to the decode pool to its result',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers,
    }),
    appendSeconds: new Histogram({
      name: 'sluice_gateway_log_append_seconds',
      help: 'Time for a micro-batch to become durable in the log',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
      registers,
    }),
    pubackSeconds: new CountedHistogram({
      name: 'sluice_gateway_puback_seconds',
      help: "Arrival to release of the PUBACK, per publish: its micro-batch's oldest publish's time, counted once for each publish of the batch (so an upper bound for each)",
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    pausedConnections: new Gauge({
      name: 'sluice_gateway_paused_connections',
      help: 'MQTT connections not being read until the ingest pipeline has room (ingest.maxInflightBytes)',
      registers,
    }),
    inflightBytes: new Gauge({
      name: 'sluice_gateway_inflight_bytes',
      help: 'Payload bytes accepted but not yet durable',
      registers,
    }),
    heldPublishes: new Gauge({
      name: 'sluice_gateway_held_publishes',
      help: 'Publishes held back because in-flight bytes reached the bound',
      registers,
    }),
    configReloads: new Counter({
      name: 'sluice_config_reload_total',
      help: 'Reloads of the device registry and the ACL file at run time, by file (registry, acl) and result (ok, invalid: the old rules stay)',
      labelNames: ['file', 'result'] as const,
      registers,
    }),
    connectsHeld: new Counter({
      name: 'sluice_gateway_connects_held_total',
      help: 'CONNECTs whose CONNACK was held for the device\'s turn (limits.connectsPerMinute)',
      registers,
    }),
    rateLimited: new Counter({
      name: 'sluice_gateway_rate_limited_total',
      help: 'Publishes delayed by the per-device rate limit',
      registers,
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
