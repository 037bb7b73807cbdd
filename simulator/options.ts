import { z } from 'zod';
import { duration } from '../core/index.js';

/** Payload forms a simulated device can send (DESIGN's device contract). */
export const SHAPES = ['rows', 'series', 'json'] as const;
export type Shape = (typeof SHAPES)[number];

const share = z.number().min(0).max(1);

/** `sluice simulate` options, validated; durations accept `5s`-style strings. */
export const simulationOptionsSchema = z
  .object({
    /**
     * MQTT broker URL, mqtt://host:port, or several separated by commas (gateways of one
     * cluster): device d connects to the (d mod n)th, and after a dropped connection to the next one.
     */
    url: z.string().regex(/^mqtts?:\/\/[^/,]+(,mqtts?:\/\/[^/,]+)*$/, 'expected mqtt://host:port, or several separated by commas').default('mqtt://127.0.0.1:1883'),
    devices: z.number().int().min(1).max(1_000_000).default(100),
    /** Readings per second, the whole fleet together. */
    rate: z.number().positive().default(1000),
    /** Readings per message. */
    batch: z.number().int().min(1).max(10_000).default(10),
    shape: z.enum(SHAPES).default('series'),
    qos: z.union([z.literal(0), z.literal(1)]).default(1),
    duration: duration('10s'),
    seed: z.number().int().default(1),
    /** Share of readings stamped earlier than their neighbours (delayed in transit). */
    disorder: share.default(0),
    /** The largest such delay. */
    maxDelay: duration('2s'),
    /** Share of messages sent twice with the same seq. */
    duplicates: share.default(0),
    /** Share of messages replaced by a broken payload (several kinds, each refused by the gateway). */
    malformed: share.default(0),
    /** Connections dropped and re-opened per minute, fleet total. */
    churn: z.number().min(0).default(0),
    /**
     * Share of devices that go offline a quarter into the run for offlineDuration: they
     * buffer what they would have sent (store and forward) and send it, oldest first, on
     * their return (or when sending ends). Their readings keep their event times.
     */
    offlineShare: share.default(0),
    offlineDuration: duration('60s'),
    /**
     * The gateway's time.maxBackfill: an offline device's buffered readings older than this
     * when they reach the gateway are late. Its messages stamped around that age are not
     * sampled (see FleetPlan.silent), so each buffered reading is clearly one or the other.
     */
    maxBackfill: duration('24h'),
    /** Token mode: passwords are HMAC-SHA256(fleetKey, deviceId). Without it devices connect without a password. */
    fleetKey: z.string().optional(),
    /** Device ids are this prefix plus a number. */
    devicePrefix: z.string().regex(/^[A-Za-z0-9_.:-]+$/).default('sim-'),
    /** Distinct metrics per device. */
    metrics: z.number().int().min(1).max(32).default(3),
    /** QoS 1 messages a device keeps in flight before it waits for PUBACKs; up to the 65,535 packet ids MQTT has (a device that never waits). */
    inflight: z.number().int().min(1).max(65_535).default(4),
    /** Event time of the run's first reading, ms since the epoch (default: when the run starts). */
    startTime: z.number().int().optional(),
    /** How long to wait, after the last send, for outstanding PUBACKs. */
    drainTimeout: duration('60s'),
  })
  .strict();

export type SimulationOptionsInput = z.input<typeof simulationOptionsSchema>;
export type SimulationOptions = z.infer<typeof simulationOptionsSchema>;
