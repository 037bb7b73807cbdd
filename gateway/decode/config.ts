import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { ConfigError } from '../../core/index.js';
import type { IngestMapping } from '../mappings/index.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const SECOND_MS = 1000;

const count = (): z.ZodNumber => z.number().int().positive();
const millis = (): z.ZodNumber => z.number().int().nonnegative();

/**
 * The decode component's options: payload limits (checked in the worker, except
 * maxMetricsPerDevice and maxSeriesPerDevice which only the main thread can know) and pool sizing.
 * Unknown keys are errors, so a typo never silently falls back to a default.
 */
export const decodeLimitsSchema = z
  .object({
    /** Readings (rows + series values) in one payload; more is `too_many_readings`. Default 10000. */
    maxReadingsPerMessage: count().default(10_000),
    /** Metric name length; longer is `metric_name_too_long`. Default 128. */
    maxMetricNameLength: count().default(128),
    /** Length of each reading tag key and value; longer is `tag_invalid`. Default 128. */
    maxTagLength: count().default(128),
    /** How far before the receive time an event time may be. Default 7 days. */
    timestampSkewPastMs: millis().default(7 * DAY_MS),
    /**
     * How far after the receive time (device clock ahead) an event time may be; beyond it
     * the payload is refused as timestamp_future. Default 10 s: a device's event time moves
     * only its own windows, and a reading minutes ahead would make that device's on-time
     * readings late until its clock caught up.
     */
    timestampSkewFutureMs: millis().default(10 * SECOND_MS),
    /** Distinct metric names per device (cardinality guard, main thread). Default 1000. */
    maxMetricsPerDevice: count().default(1000),
    /**
     * Distinct series per device (cardinality guard, main thread): a metric without tags is
     * one series, each distinct tag set of a metric one more. A message that would pass it
     * is refused (cardinality_limit). Bounds the gateway's memory (~20 bytes a series) and
     * the processors' state and InfluxDB series a device can create. Default 1000.
     */
    maxSeriesPerDevice: count().default(1000),
    /**
     * Distinct device ids one identity may publish for besides its own (a service bridging
     * devices through mapped or `devices/{id}/telemetry` topics, a Sparkplug B edge node):
     * a publish for a new one past it is refused (device_limit). Bounds what one credential
     * that cycles device names can make the gateway, the processors and InfluxDB hold
     * (see gateway/identity-devices.ts). Default 100 000: InfluxDB 1.x's own default
     * max-values-per-tag, so one identity alone cannot pass what InfluxDB takes for the
     * device tag, and a bridge of a large fleet works as it did.
     */
    maxDevicesPerIdentity: count().default(100_000),
    /** Decode worker threads. Default: one per core, less one for the main (MQTT) thread, at least 1. */
    threads: count().default(() => Math.max(1, availableParallelism() - 1)),
    /**
     * Jobs waiting for a free worker. Default 16. Bounded on purpose: when it is full the
     * pool reports `saturated` and the caller stops feeding (holds authorizePublish),
     * because a starved dispatcher with an unbounded queue grows without limit.
     */
    maxQueue: z.number().int().nonnegative().default(16),
    /**
     * A micro-batch of at most this many payload bytes is decoded on the main thread, not
     * in a worker: for a small batch, handing it over (post, waking the worker, the result
     * message, each a thread switch on a busy machine) costs more than decoding it. 0 =
     * always in a worker. Default 64 KiB: ~1 800 single-reading messages (~1.7 ms of the
     * event loop), ~60 fleet messages of 100 readings. At 16 KiB a closed loop of 50 × 16
     * single-reading publishes in flight cut batches of ~400–500 messages, right at the
     * bound, and the ones past it paid the hand-over's latency: 64 KiB was ahead in 7 of 7
     * alternating rounds (+4 % msgs/s, 4.9 against 5.1 CPU s per M msgs); fleet rounds,
     * whose batches are megabytes, unchanged.
     */
    inlineMaxBytes: z.number().int().nonnegative().default(64 * 1024),
  })
  .strict();

/** Options as written in config (every key optional). */
export type DecodeLimitsInput = z.input<typeof decodeLimitsSchema>;
/** Options with defaults applied. */
export type DecodeLimits = z.output<typeof decodeLimitsSchema>;
/** The subset the payload decoder (and so the worker) needs. */
export type PayloadLimits = Pick<
  DecodeLimits,
  'maxReadingsPerMessage' | 'maxMetricNameLength' | 'maxTagLength' | 'timestampSkewPastMs' | 'timestampSkewFutureMs'
>;

/**
 * What a decode worker gets as workerData: the payload limits, and `ingest.mappings`
 * (validated on the main thread; a job names a mapping by its index in this list).
 */
export type WorkerData = PayloadLimits & { mappings?: readonly IngestMapping[] };

/** Validates decode options; throws ConfigError naming each bad key, its value and what was expected. */
export function parseDecodeLimits(input: unknown = {}, path = 'decode'): DecodeLimits {
  const parsed = decodeLimitsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
    return keys
      .map((key) => {
        const at = [...issue.path, ...(key === undefined ? [] : [key])];
        const where = [path, ...at.map(String)].filter(Boolean).join('.');
        const value = at.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k as PropertyKey], input);
        return issue.code === 'unrecognized_keys'
          ? `${where}: unknown option`
          : `${where}: ${issue.message} (got ${JSON.stringify(value)})`;
      })
      .join('\n');
  });
  throw new ConfigError(`invalid decode options:\n${lines.join('\n')}`, { cause: parsed.error });
}
