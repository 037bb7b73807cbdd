/**
 * Retention policies per output (InfluxDB 1.x, issue 17): which policy each measurement is
 * written to (`influx.retentionPolicies`), and the policies Sluice creates when they are
 * missing (`influx.createRetentionPolicies`). InfluxDB 2.x has buckets instead, and no
 * policy on the write path; the config refuses both keys there (config.ts).
 */
import { z } from 'zod';

/** An InfluxQL duration literal (`1h`, `7d`, `52w`, `1h30m`), or `INF` (keep forever). */
const DURATION_LITERAL = /^(?:\d+(?:ns|u|µ|ms|s|m|h|d|w))+$/;
const UNIT_MS: Record<string, number> = { ns: 1e-6, u: 1e-3, µ: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
/** influxd refuses a DURATION or SHARD DURATION below one hour (meta.MinRetentionPolicyDuration). */
const ONE_HOUR_MS = 3_600_000;

function literalMs(literal: string): number {
  let ms = 0;
  for (const [, n, unit] of literal.matchAll(/(\d+)(ns|u|µ|ms|s|m|h|d|w)/g)) ms += Number(n) * UNIT_MS[unit!]!;
  return ms;
}

/** A DURATION or SHARD DURATION as InfluxQL takes it; `INF` only where `infinite` allows. */
function durationLiteral(infinite: boolean) {
  const expected = infinite ? "expected an InfluxQL duration of at least 1h (e.g. '7d', '52w', '1h30m') or INF" : "expected an InfluxQL duration of at least 1h (e.g. '1h', '1d', '7d')";
  return z.string().refine((s) => (infinite && s === 'INF') || (DURATION_LITERAL.test(s) && literalMs(s) >= ONE_HOUR_MS), { error: (issue) => `${expected}, got ${JSON.stringify(issue.input)}` });
}

/** A retention policy name (any non-empty string: `?rp=` takes it URL-encoded, InfluxQL double-quoted). */
export const retentionPolicyName = z.string().min(1, 'expected a retention policy name');

/** One policy Sluice creates when `SHOW RETENTION POLICIES` does not list it. */
export const retentionPolicyDefinitionSchema = z.strictObject({
  name: retentionPolicyName,
  /** Required. How long InfluxDB keeps the points: an InfluxQL duration (at least 1h) or INF. */
  duration: durationLiteral(true),
  /** Default 1. Copies of each point (InfluxDB Enterprise clusters; open-source 1.x keeps one whatever this says). */
  replication: z.number().int().min(1).max(100).default(1),
  /** No default (InfluxDB picks from the duration: 1h below 2d, 1d up to 6 months, 7d beyond). */
  shardDuration: durationLiteral(false).optional(),
});
export type RetentionPolicyDefinition = z.output<typeof retentionPolicyDefinitionSchema>;

/** Which retention policy each output is written to; an output left out goes to influx.retentionPolicy. */
export const retentionPoliciesSchema = z.strictObject({
  /** `readings` (outputs.raw) and `late_readings`: the raw readings, usually kept a short time. */
  raw: retentionPolicyName.optional(),
  /** Every window measurement (the `windows` list), usually kept long. */
  windows: retentionPolicyName.optional(),
  /** `alerts` (rules.file). */
  alerts: retentionPolicyName.optional(),
  /** `sluice_stats` (stats.*). */
  stats: retentionPolicyName.optional(),
  /** `device_status` (Sparkplug B births and deaths, ingest.sparkplug). */
  status: retentionPolicyName.optional(),
});
export type RetentionPolicies = z.output<typeof retentionPoliciesSchema>;
export type Output = keyof RetentionPolicies;

/** The measurements of each output other than windows (every other measurement is a window's: window-spec.ts reserves these names). */
const OUTPUT_OF_MEASUREMENT: Record<string, Output> = { readings: 'raw', late_readings: 'raw', alerts: 'alerts', sluice_stats: 'stats', device_status: 'status' };

/** The output a measurement belongs to. */
export function outputOf(measurement: string): Output {
  return OUTPUT_OF_MEASUREMENT[measurement] ?? 'windows';
}

/**
 * The retention policy `measurement` is written to when it differs from influx.retentionPolicy
 * (the writer's default), else undefined. Undefined for every measurement when no output has
 * its own policy, so the usual config pays nothing.
 */
export function retentionRoute(config: { retentionPolicies?: RetentionPolicies | undefined }): ((measurement: string) => string | undefined) | undefined {
  const policies = config.retentionPolicies;
  if (policies === undefined || Object.values(policies).every((rp) => rp === undefined)) return undefined;
  return (measurement) => policies[outputOf(measurement)];
}

/** Every policy the config writes to by name: influx.retentionPolicy and each output's. */
export function retentionPoliciesUsed(config: { retentionPolicy?: string | undefined; retentionPolicies?: RetentionPolicies | undefined }): string[] {
  const names = [config.retentionPolicy, ...Object.values(config.retentionPolicies ?? {})].filter((rp): rp is string => rp !== undefined);
  return [...new Set(names)];
}

/** An InfluxQL identifier, double-quoted, `\\` and `"` escaped (influxql.QuoteIdent). */
export const quoteIdent = (name: string): string => `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** `CREATE RETENTION POLICY … ON … DURATION … REPLICATION …[ SHARD DURATION …]`; never DEFAULT: the database's default stays as it is. */
export function createRetentionPolicyStatement(database: string, rp: RetentionPolicyDefinition): string {
  const shard = rp.shardDuration === undefined ? '' : ` SHARD DURATION ${rp.shardDuration}`;
  return `CREATE RETENTION POLICY ${quoteIdent(rp.name)} ON ${quoteIdent(database)} DURATION ${rp.duration} REPLICATION ${rp.replication}${shard}`;
}
