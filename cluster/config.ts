/** The cluster's configuration (the config's `cluster` section): schema, defaults and the checked parse, in one place. */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { ConfigError, duration, parseDuration } from '../core/index.js';

/** A KV key the member's heartbeat is stored under: the characters NATS KV keys allow, without dots (one token). */
const MEMBER_ID = /^[A-Za-z0-9_=-]+$/;
/** A JetStream bucket name: letters, digits, - and _ (the server refuses dots and wildcards). */
const BUCKET = /^[A-Za-z0-9_-]+$/;
const bucketName = z.string().regex(BUCKET, { error: 'use letters, digits, - and _ only (a JetStream bucket name)' });

/** `<hostname>-<pid>-<random>`, with the host name reduced to characters a KV key takes: unique per process, readable in `sluice cluster status`. */
export function defaultMemberId(): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]+/g, '_') || 'host';
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** A duration field without a default: absent stays undefined, so the caller can pick one (influx.timeout for handoffGrace). */
function optionalDuration() {
  return z
    .union([z.number().nonnegative(), z.string()])
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return undefined;
      try {
        return parseDuration(value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    });
}

/** Schema of `cluster.*`; unknown keys are errors. */
export const clusterConfigSchema = z
  .object({
    /** This member's name in the members bucket and in lease values. Default `<hostname>-<pid>-<random>`, new for every process, so a restarted process is a new member. */
    memberId: z.string().regex(MEMBER_ID, { error: 'use letters, digits, -, _ and = only (one NATS KV key token)' }).max(200).default(defaultMemberId),
    /** How often a member writes its heartbeat, renews its leases and rebalances. Default 1s. */
    heartbeatInterval: duration('1s'),
    /** A member not heard from for this long (counted only while the observer's own writes succeed) has left. Default 4s. */
    memberTimeout: duration('4s'),
    /** A lease not renewed for this long (counted the same way) may be taken over. Longer than a KV leader election on its own is not needed: the count stops while nobody can write. Default 6s. */
    leaseTime: duration('6s'),
    /** The holder fences itself (stops its InfluxDB writes) when its last successful renewal of a partition is this old. Must be below leaseTime − heartbeatInterval. Default 4s. */
    fenceAfter: duration('4s'),
    /** How long a new owner waits before writing after a failover (the previous holder's last writes may still land). Default: none here; the CLI uses influx.timeout. */
    handoffGrace: optionalDuration(),
    /** The KV bucket of member heartbeats. Default `SLUICE_MEMBERS`. */
    membersBucket: bucketName.default('SLUICE_MEMBERS'),
    /** The KV bucket of partition leases (key `p<partition>`). Default `SLUICE_LEASES`. */
    leasesBucket: bucketName.default('SLUICE_LEASES'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.heartbeatInterval <= 0) ctx.addIssue({ code: 'custom', path: ['heartbeatInterval'], input: c.heartbeatInterval, message: 'must be above 0' });
    if (c.memberTimeout <= 2 * c.heartbeatInterval) {
      ctx.addIssue({ code: 'custom', path: ['memberTimeout'], input: c.memberTimeout, message: `must exceed two heartbeat intervals (${2 * c.heartbeatInterval} ms), or one late heartbeat drops a member` });
    }
    // The holder's stale window must close before any observer can take the lease: an
    // observer counts from the revision it saw, at most one heartbeat after the holder's write.
    if (c.fenceAfter >= c.leaseTime - c.heartbeatInterval) {
      ctx.addIssue({ code: 'custom', path: ['fenceAfter'], input: c.fenceAfter, message: `must be below leaseTime − heartbeatInterval (${c.leaseTime - c.heartbeatInterval} ms)` });
    }
    if (c.fenceAfter <= c.heartbeatInterval) {
      ctx.addIssue({ code: 'custom', path: ['fenceAfter'], input: c.fenceAfter, message: `must exceed heartbeatInterval (${c.heartbeatInterval} ms), or a holder fences itself between two renewals` });
    }
  });

/** The options after defaults are applied (durations in ms). */
export type ClusterConfig = z.output<typeof clusterConfigSchema>;
/** The options as a caller writes them (all optional). */
export type ClusterConfigInput = z.input<typeof clusterConfigSchema>;

/** Validates `input` and applies defaults; a ConfigError names each bad path, its value and what was expected. */
export function parseClusterConfig(input: unknown): ClusterConfig {
  const result = clusterConfigSchema.safeParse(input ?? {}, { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = ['cluster', ...issue.path].join('.');
    const value = issue.code === 'unrecognized_keys' || issue.input === undefined ? '' : ` (got ${JSON.stringify(issue.input)})`;
    return `${path}: ${issue.message}${value}`;
  });
  throw new ConfigError(`invalid cluster config: ${problems.join('; ')}`);
}
