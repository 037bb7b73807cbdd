import { z } from 'zod';
import { duration } from '../core/index.js';
import { aclConfigSchema, authConfigSchema } from './auth/index.js';
import { decodeLimitsSchema } from './decode/index.js';
import { ingestMappingsSchema } from './mappings/index.js';

/** MQTT listeners and connection limits. */
export const mqttConfigSchema = z
  .object({
    /** Address the listeners bind to. */
    host: z.string().default('0.0.0.0'),
    /**
     * Default true: the plain TCP listener on `port`. false turns it off, so devices must
     * use TLS or (secure) WebSocket. A switch, not `port: 0`, which means "any free port".
     */
    tcp: z.boolean().default(true),
    /** Default 1883: plain TCP MQTT port; 0 picks a free one. */
    port: z.number().int().min(0).max(65535).default(1883),
    /** MQTT over WebSocket port; off unless set. */
    wsPort: z.number().int().min(0).max(65535).optional(),
    /** MQTT over secure WebSocket (wss://) port, with `tls`'s certificate and client-certificate rules; off unless set. */
    wssPort: z.number().int().min(0).max(65535).optional(),
    /** MQTT over TLS; off unless set. cert, key and ca are PEM file paths. */
    tls: z
      .object({
        /** Default 8883. */
        port: z.number().int().min(0).max(65535).default(8883),
        cert: z.string(),
        key: z.string(),
        /**
         * No default. The CA(s) that sign device certificates: when set, TLS and WSS clients
         * are asked for a certificate, and a verified one names the device (see `identity`)
         * in place of a password.
         */
        ca: z.string().optional(),
        /** Default false: a client without a certificate `ca` verifies may still log in with a password. true: its handshake fails. Needs `ca`. */
        requireClientCert: z.boolean().default(false),
        /** Default `cn`: the device id is the certificate's subject CN; `san`: its first DNS subjectAltName. */
        identity: z.enum(['cn', 'san']).default('cn'),
      })
      .strict()
      .refine((tls) => !tls.requireClientCert || tls.ca !== undefined, { message: 'mqtt.tls.requireClientCert needs mqtt.tls.ca: set the CA file that signs the device certificates', path: ['requireClientCert'] })
      .optional(),
    /** Largest MQTT packet accepted; a larger one closes its connection before it is buffered. */
    maxPacketBytes: z.number().int().min(1024).default(256 * 1024),
    /**
     * Sockets open at once over all MQTT listeners, counted from accept (a socket that never
     * sends CONNECT holds a descriptor too); a socket beyond it is closed at once. Also capped
     * below the process's descriptor limit, see `reservedFds`.
     */
    maxConnections: z.number().int().positive().default(100_000),
    /**
     * File descriptors kept free for everything but MQTT sockets (HTTP endpoints, log,
     * checkpoints, sink): MQTT sockets are capped at the soft RLIMIT_NOFILE minus the
     * descriptors open at start minus this, so /healthz still answers when MQTT is full.
     */
    reservedFds: z.number().int().min(0).default(256),
    /** Sockets from one source address that may be open without having sent CONNECT yet. */
    maxPendingPerAddress: z.number().int().positive().default(64),
    /** Time a new connection has to send CONNECT. */
    connectTimeout: duration('30s'),
    /**
     * Time a packet has from its first byte to its last (0 = no limit); a slower one closes
     * the connection (slowloris). Generous: a 256 KiB packet at 10 kB/s takes 26 s.
     */
    packetTimeout: duration('30s'),
    /**
     * Largest keep-alive in seconds; a CONNECT asking for more, or for 0 (none), gets this
     * one applied (it is not refused), so a silent connection is closed after 1.5 × it.
     * 1200 as AWS IoT Core does.
     */
    keepaliveLimit: z.number().int().min(1).max(65535).default(1200),
  })
  .strict()
  .superRefine((mqtt, ctx) => {
    if (mqtt.wssPort !== undefined && mqtt.tls === undefined) {
      ctx.addIssue({ code: 'custom', path: ['wssPort'], message: 'mqtt.wssPort needs mqtt.tls (cert and key): set mqtt.tls.cert and mqtt.tls.key' });
    }
    if (!mqtt.tcp && mqtt.tls === undefined && mqtt.wsPort === undefined) {
      ctx.addIssue({ code: 'custom', path: ['tcp'], message: 'mqtt.tcp is false and no other MQTT listener is set: set mqtt.tls or mqtt.wsPort, or leave mqtt.tcp on' });
    }
  });

/** Per-device flow limits, per device identity (all its connections together). */
export const deviceLimitsSchema = z
  .object({
    /** Sustained messages per second per device (token bucket); 0 = unlimited. Excess slows the device, never drops. */
    messagesPerSecond: z.number().min(0).default(1000),
    /** Bucket size: messages a device may send in a burst above the rate. */
    burst: z.number().int().positive().default(2000),
    /**
     * Sustained readings per second per device; 0 = unlimited. Counted after decode, so a
     * message that passes it is taken and the device's next publishes wait out the debt.
     * Without it one device sending 10,000-reading Series took millions of readings a
     * second and held up every other device's PUBACKs.
     */
    readingsPerSecond: z.number().min(0).default(100_000),
    /** Readings a device may send in a burst above the rate. */
    readingsBurst: z.number().int().positive().default(200_000),
    /** Sustained payload bytes per second per device; 0 = unlimited. */
    bytesPerSecond: z.number().min(0).default(8 * 1024 * 1024),
    /** Payload bytes a device may send in a burst above the rate. */
    bytesBurst: z.number().int().positive().default(16 * 1024 * 1024),
    /**
     * Sustained CONNECTs per minute per device (as AWS IoT Core's one a second); 0 =
     * unlimited. Over it a CONNACK is held until the device's turn, so a reconnect loop
     * runs at this rate instead of taking the gateway's thread from every other device.
     */
    connectsPerMinute: z.number().min(0).default(60),
    /** CONNECTs a device may make in a burst above the rate (a restart, a flaky network). */
    connectBurst: z.number().int().positive().default(10),
  })
  .strict();

/** Micro-batching on the main thread and the bound on work in flight. */
export const ingestConfigSchema = z
  .object({
    /** A micro-batch is flushed at this many messages ... */
    batchMaxMessages: z.number().int().positive().default(4096),
    /** ... or this many payload bytes ... */
    batchMaxBytes: z.number().int().positive().default(4 * 1024 * 1024),
    /**
     * ... or at the latest this long after its first message, while an earlier batch is
     * still on its way to the log. With none on its way the batch is cut at the end of the
     * event-loop turn, and when the earlier ones are released what arrived meanwhile is
     * cut at once (ingest-pipeline.ts): the batch grows with the load. 5 ms, not less:
     * with many devices each sending a little, a batch's fixed costs (decode job,
     * per-partition compress and append, commit) dominate; at 2 ms the gateway used
     * ~130 µs of CPU per message and held PUBACK p99 < 100 ms only to ~5k msgs/s, at 5 ms
     * ~65 µs and 13.5k (sluice bench, before the cut on release).
     */
    batchMaxDelay: duration('5ms'),
    /**
     * Default 0 (cut at once): a batch under 64 messages is cut no sooner than this after
     * the previous cut, even when the pipeline could take it at once. It trades up to this
     * much PUBACK latency, at moderate rates only, for fewer batches: at 10 000 msgs/s from
     * 50 devices, 2 ms used less CPU per message in 3 of 4 interleaved pairs (−24, −23, −15,
     * +10 %; this VM's speed wanders ±20 %). Not the default
     * because a device with a full in-flight window waits for PUBACKs: in the closed-loop
     * bench (50 × 16 in flight) 2 ms lost 3 of 4 interleaved rounds (median −14 % msgs/s).
     */
    batchMinInterval: duration('0ms'),
    /**
     * Payload bytes accepted but not yet durable; past it the gateway stops reading sockets.
     * 8 MiB: two full micro-batches (batchMaxBytes 4 MiB), so one decodes while the other is
     * written. 64 MiB only kept more parsed publishes alive for the garbage collector: under
     * the fleet load (10 000 devices × 16 in flight) 8 MiB won 4 of 4 interleaved pairs,
     * 2.82 M against 2.07 M readings/s median, 43 against 55 CPU s per M msgs, ~200 MiB less RSS.
     */
    maxInflightBytes: z.number().int().positive().default(8 * 1024 * 1024),
    /**
     * Default none: topics besides devices/{id}/telemetry[/json] whose JSON object payloads
     * are telemetry, each mapped to readings by its rules (gateway/mappings, README
     * "Connecting existing devices").
     */
    mappings: ingestMappingsSchema,
    /**
     * Default false: Sparkplug B ingest (gateway/sparkplug, README "Connecting existing
     * devices"): NBIRTH, NDATA, DBIRTH, DDATA under spBv1.0/ become readings of the devices
     * {group}:{edge}[:{device}], published by the edge node (username = edge node id).
     * Off, spBv1.0/ topics are ordinary MQTT traffic under the ACL, as before.
     */
    sparkplug: z.boolean().default(false),
  })
  .strict();

/** The bounded, rotated record of rejected payloads under dataDir/deadletters. */
export const deadLettersConfigSchema = z
  .object({
    /** A dead-letter file rotates at this size. */
    maxFileBytes: z.number().int().positive().default(8 * 1024 * 1024),
    /** Rotated files kept (older ones are deleted). */
    maxFiles: z.number().int().positive().default(3),
  })
  .strict();

/** The HTTP endpoints: /metrics, /healthz, /readyz. */
export const httpConfigSchema = z
  .object({
    host: z.string().default('0.0.0.0'),
    /** 0 picks a free port. */
    port: z.number().int().min(0).max(65535).default(9464),
  })
  .strict();

export type MqttConfig = z.infer<typeof mqttConfigSchema>;
export type DeviceLimitsConfig = z.infer<typeof deviceLimitsSchema>;
export type IngestConfig = z.infer<typeof ingestConfigSchema>;
export type DeadLettersConfig = z.infer<typeof deadLettersConfigSchema>;
export type HttpConfig = z.infer<typeof httpConfigSchema>;

/** Everything the gateway reads from the config file, each part with its defaults. */
export const gatewayConfigShape = {
  mqtt: mqttConfigSchema.prefault({}),
  http: httpConfigSchema.prefault({}),
  auth: authConfigSchema.prefault({}),
  acl: aclConfigSchema.prefault({}),
  limits: deviceLimitsSchema.prefault({}),
  ingest: ingestConfigSchema.prefault({}),
  decode: decodeLimitsSchema.prefault({}),
  deadLetters: deadLettersConfigSchema.prefault({}),
};

/** The gateway's whole config section, validated. */
export const gatewayConfigSchema = z.object(gatewayConfigShape).strict();
export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
