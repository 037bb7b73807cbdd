/** The InfluxDB sink's configuration (`influx.*`, `outputs.*`): schema and defaults in one place. */
import { z } from 'zod';
import { duration } from '../../core/duration.js';
import { retentionPoliciesSchema, retentionPoliciesUsed, retentionPolicyDefinitionSchema, retentionPolicyName } from './retention.js';

/** Keys that only InfluxDB 2.x uses, and keys that only 1.x uses; setting one for the other version is a mistake. */
const V2_ONLY = ['bucket', 'org', 'token'] as const;
const V1_ONLY = ['retentionPolicy', 'retentionPolicies', 'createRetentionPolicies', 'username', 'password'] as const;

/** The `influx` section: where and how the sink writes. */
export const influxConfigSchema = z
  .strictObject({
    /** Default http://127.0.0.1:8086. Base URL of InfluxDB's HTTP API, without /api/v2 or /write. */
    url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).default('http://127.0.0.1:8086'),
    /** Default 1. 1: InfluxDB 1.x /write (database, retentionPolicy, username/password); 2: /api/v2/write (bucket, org, token). */
    version: z.union([z.literal(1), z.literal(2)], { error: 'expected 1 (InfluxDB 1.x) or 2 (InfluxDB 2.x/3.x)' }).default(1),
    /** Default 'sluice'. v1 only: the database written to. */
    database: z.string().min(1, 'expected a database name').default('sluice'),
    /** No default (the database's default retention policy). v1 only. Every output without its own in retentionPolicies is written to it. */
    retentionPolicy: retentionPolicyName.optional(),
    /**
     * No default (every output to retentionPolicy). v1 only: the retention policy each output
     * is written to, `{ raw, windows, alerts, stats, status }`: raw is `readings` and
     * `late_readings`, windows every window measurement, alerts `alerts`, stats `sluice_stats`,
     * status `device_status`. An output left out goes to retentionPolicy, then the database's default.
     */
    retentionPolicies: retentionPoliciesSchema.optional(),
    /**
     * No default (none created). v1 only: policies `{ name, duration, replication?,
     * shardDuration? }` created at start (`CREATE RETENTION POLICY`, admins only; a refusal is
     * logged and the writes then say what is missing) when `SHOW RETENTION POLICIES` does not
     * list them. An existing policy is never altered, and none is made the database's DEFAULT.
     */
    createRetentionPolicies: z.array(retentionPolicyDefinitionSchema).optional(),
    /** No default (no authentication). v1 only; sent as HTTP basic auth. */
    username: z.string().min(1).optional(),
    /** No default. v1 only; requires username. */
    password: z.string().optional(),
    /** No default. v2: required, the bucket written to. */
    bucket: z.string().min(1).optional(),
    /** No default. v2: required, the organization (name or id) that owns the bucket. */
    org: z.string().min(1).optional(),
    /** No default. v2: required, an API token with write permission on the bucket. */
    token: z.string().min(1).optional(),
    /** Default 5000. Points per write request (InfluxData recommends 5000). */
    batchSize: z.number().int().positive().max(1_000_000).default(5000),
    /** Default 1s. Buffered points are written at least this often, even when fewer than batchSize. */
    flushInterval: duration('1s'),
    /** Default 2. Write requests in flight at once, across all partitions of a processor. */
    maxInflightRequests: z.number().int().positive().max(64).default(2),
    /**
     * Default 200000, at least batchSize. Points (and deletes) a processor thread holds,
     * buffered or in flight, before its partitions stop reading the log until InfluxDB has
     * taken some: ~450 bytes each (measured), so ~90 MB at most per thread. A window close
     * emits a point per key and window at once (10 000 devices × 5 metrics × 2 windows:
     * 100 000), which InfluxDB takes over seconds; with 50 000 (the bound before 2026-12-06)
     * the fleet's processors stopped at every close and fell behind.
     */
    maxBufferedPoints: z.number().int().positive().max(10_000_000).default(200_000),
    /**
     * No default: retry retriable failures (network, 5xx, 429) forever, so an outage never
     * loses data (the checkpoint does not advance meanwhile). Set it to give up after that
     * many retries of one request with SLUICE_SINK_UNAVAILABLE.
     */
    maxRetries: z.number().int().nonnegative().optional(),
    /** Default 30s. Cap on the exponential backoff between retries (a Retry-After from the server wins). */
    maxRetryDelay: duration('30s'),
    /** Default 10s. A request with no response activity for this long is abandoned and retried. */
    timeout: duration('10s'),
    /**
     * Default true. v1 only: at start, when `SHOW DATABASES` does not list influx.database,
     * run `CREATE DATABASE` (admins only; a refusal is logged and the writes then say what
     * is missing). False never creates it (Telegraf's `skip_database_creation: true`), for
     * users who are not admins or databases managed elsewhere. True is the default because
     * it is what the demo and a first try need, and a non-admin user with a privilege on an
     * existing database sees it listed, so nothing is created.
     */
    createDatabase: z.boolean().default(true),
    /**
     * Default `identity`. How write bodies are sent: `identity`, or `gzip` (Content-Encoding:
     * gzip, Telegraf's `content_encoding`). Measured on window points against influxd 1.6 on
     * loopback (npm run bench:influx-gzip): gzip sends 3.1× fewer bytes but costs ~8 µs of
     * Sluice CPU and ~3 µs of influxd CPU per point, and writes took longer. InfluxDB usually
     * sits next to the gateway, where CPU is the scarcer resource; set gzip for a remote or
     * metered link (InfluxDB Cloud).
     */
    contentEncoding: z.enum(['gzip', 'identity'], { error: 'expected gzip or identity' }).default('identity'),
    /** TLS to an https:// InfluxDB. */
    tls: z
      .strictObject({
        /** No default (the system's CAs). PEM file of the CA(s) that signed InfluxDB's certificate. */
        ca: z.string().min(1, 'expected a file path').optional(),
        /** Default false. True accepts any certificate (self-signed, wrong host): for tests only, it lets anyone in the middle read the token. */
        insecureSkipVerify: z.boolean().default(false),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    if (config.maxBufferedPoints < config.batchSize) {
      ctx.addIssue({ code: 'custom', path: ['maxBufferedPoints'], message: `influx.maxBufferedPoints (${config.maxBufferedPoints}) is below influx.batchSize (${config.batchSize}): the sink could never fill a write; raise it or lower batchSize` });
    }
    if (!config.url.startsWith('https:')) {
      if (config.tls.ca !== undefined) ctx.addIssue({ code: 'custom', path: ['tls', 'ca'], message: 'influx.tls.ca is set but influx.url is not https://: use an https:// URL, or remove influx.tls.ca' });
      if (config.tls.insecureSkipVerify) ctx.addIssue({ code: 'custom', path: ['tls', 'insecureSkipVerify'], message: 'influx.tls.insecureSkipVerify is set but influx.url is not https://: use an https:// URL, or remove it' });
    }
    if (config.version === 2) {
      for (const key of ['retentionPolicies', 'createRetentionPolicies'] as const) {
        if (config[key] !== undefined) {
          ctx.addIssue({ code: 'custom', path: [key], message: `influx.${key} is only used with InfluxDB 1.x (2.x has no retention policies on the write path, and Sluice writes every output to influx.bucket): remove it and set the bucket's retention, or set influx.version: 1` });
        }
      }
      for (const key of V2_ONLY) {
        if (config[key] === undefined) {
          ctx.addIssue({ code: 'custom', path: [key], message: `influx.version is 2 but influx.${key} is not set: set influx.${key} (bucket, org and token are all required for InfluxDB 2.x)` });
        }
      }
      for (const key of V1_ONLY) {
        if (config[key] !== undefined && key !== 'retentionPolicies' && key !== 'createRetentionPolicies') {
          ctx.addIssue({ code: 'custom', path: [key], message: `influx.${key} is only used with InfluxDB 1.x: remove it, or set influx.version: 1` });
        }
      }
      return;
    }
    for (const key of V2_ONLY) {
      if (config[key] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [key], message: `influx.${key} is only used with InfluxDB 2.x: set influx.version: 2, or remove influx.${key}` });
      }
    }
    if (config.password !== undefined && config.username === undefined) {
      ctx.addIssue({ code: 'custom', path: ['username'], message: 'influx.password is set but influx.username is not: set influx.username too' });
    }
    const used = retentionPoliciesUsed(config);
    const defined = new Set<string>();
    config.createRetentionPolicies?.forEach((rp, i) => {
      if (defined.has(rp.name)) ctx.addIssue({ code: 'custom', path: ['createRetentionPolicies', i, 'name'], message: `influx.createRetentionPolicies[${i}].name ${JSON.stringify(rp.name)} is defined twice: keep one definition` });
      else if (!used.includes(rp.name)) ctx.addIssue({ code: 'custom', path: ['createRetentionPolicies', i, 'name'], message: `influx.createRetentionPolicies[${i}].name ${JSON.stringify(rp.name)} is not written to: name it in influx.retentionPolicies (raw, windows, alerts, stats, status) or influx.retentionPolicy, or remove the definition` });
      defined.add(rp.name);
    });
  });

/** The `outputs` section: what the processors write besides window aggregates. */
export const outputsConfigSchema = z.strictObject({
  /** Default false. Also write every raw reading to the `readings` measurement (one point per reading). */
  raw: z.boolean().default(false),
});

/** Validated `influx` config, defaults applied; durations in milliseconds. */
export type InfluxConfig = z.output<typeof influxConfigSchema>;
/** The `influx` config as written (every key optional). */
export type InfluxConfigInput = z.input<typeof influxConfigSchema>;
/** Validated `outputs` config. */
export type OutputsConfig = z.output<typeof outputsConfigSchema>;
