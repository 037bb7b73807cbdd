/** JetStreamLog's configuration (the config's `nats` section): schema, defaults and the checked parse, in one place. */
import { z } from 'zod';
import { ConfigError } from '../../core/errors.js';

/** A JetStream name: no dots, wildcards or spaces (the server refuses them in stream names). */
const NAME = /^[A-Za-z0-9_-]+$/;
/** Subject tokens separated by dots, no wildcards. */
const SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Schema of the JetStreamLog's options; unknown keys are errors. */
export const jetStreamLogConfigSchema = z
  .object({
    /** NATS URLs to connect to (any member of the cluster; the client learns the others). Required. */
    servers: z.array(z.string().min(1), { error: 'expected a list of NATS URLs such as ["nats://10.0.0.1:4222"]' }).min(1, { error: 'list at least one NATS URL' }),
    /** The stream holding every partition. Default `SLUICE`. */
    stream: z.string().regex(NAME, { error: 'use letters, digits, - and _ only (a JetStream stream name)' }).default('SLUICE'),
    /** Partition `n` is subject `<subjectPrefix>.<n>`. Default `sluice.p`. */
    subjectPrefix: z.string().regex(SUBJECT, { error: 'use dot-separated tokens of letters, digits, - and _, such as "sluice.p"' }).default('sluice.p'),
    /** Stream (and trim bucket) replicas: 1 on a single server, 3 on a cluster of three or more. Default 1. */
    replicas: z.union([z.literal(1), z.literal(3)], { error: 'expected 1 (single server) or 3 (a cluster of at least three)' }).default(1),
    /** User and password, together. */
    user: z.string().min(1).optional(),
    pass: z.string().min(1).optional(),
    /** A server token, instead of user/pass. */
    token: z.string().min(1).optional(),
    /** A `.creds` file (JWT + nkey seed), instead of user/pass or token. */
    credsFile: z.string().min(1).optional(),
    /** PEM files: `ca` to verify the server, `cert` and `key` (together) for mutual TLS. */
    tls: z
      .object({ ca: z.string().min(1).optional(), cert: z.string().min(1).optional(), key: z.string().min(1).optional() })
      .strict()
      .refine((t) => (t.cert === undefined) === (t.key === undefined), { error: 'give cert and key together (mutual TLS) or neither' })
      .optional(),
    /** A frame (one stream message) closes at this size; lowered to the server's max_payload at connect. Default 64 KiB. */
    maxFrameBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(64 * 1024),
    /** A frame of an idle partition waits this long for more records before it is published. Default 2 ms. */
    frameDelayMs: z.number().int().min(0).max(1000).default(2),
    /** Frames being published at once, over all partitions (each partition has at most one: see frame-writer.ts). Default 32. */
    maxInflightFrames: z.number().int().min(1).max(4096).default(32),
    /** How long one publish waits for its ack before it is retried with the same msg id. Default 2000 ms. */
    publishTimeoutMs: z.number().int().min(100).max(60_000).default(2000),
    /**
     * The stream's duplicate window: a retry within it of a frame already stored is dropped
     * by the server. It must outlast a leader election plus the retries (4-8 s measured).
     * Default 120000 ms (2 min).
     */
    duplicateWindowMs: z.number().int().min(10_000).max(24 * 3600_000).default(120_000),
  })
  .strict()
  .refine((c) => (c.user === undefined) === (c.pass === undefined), { error: 'give user and pass together', path: ['user'] })
  .refine((c) => [c.user, c.token, c.credsFile].filter((v) => v !== undefined).length <= 1, {
    error: 'choose one of user/pass, token or credsFile',
    path: ['token'],
  });

/** The options after defaults are applied. */
export type JetStreamLogConfig = z.output<typeof jetStreamLogConfigSchema>;
/** The options as a caller writes them (only `servers` is required). */
export type JetStreamLogConfigInput = z.input<typeof jetStreamLogConfigSchema>;

/** Validates `input` and applies defaults; a ConfigError names each bad path, its value and what to write instead. */
export function parseJetStreamLogConfig(input: unknown): JetStreamLogConfig {
  const result = jetStreamLogConfigSchema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = ['nats', ...issue.path].join('.');
    const secret = issue.path.some((key) => key === 'pass' || key === 'token');
    const value = issue.code === 'unrecognized_keys' || issue.input === undefined ? '' : ` (got ${secret ? '***' : JSON.stringify(issue.input)})`;
    return `${path}: ${issue.message}${value}`;
  });
  throw new ConfigError(`invalid JetStream log config: ${problems.join('; ')}`);
}
