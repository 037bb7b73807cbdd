/** NatsCheckpointStore's configuration (`checkpoint.nats.*`): schema, defaults and the checked parse, in one place. */
import { z } from 'zod';
import { ConfigError } from '../../core/errors.js';

/** A JetStream bucket name: letters, digits, - and _ (the server refuses dots and wildcards). */
const BUCKET = /^[A-Za-z0-9_-]+$/;
const bucketName = z.string().regex(BUCKET, { error: 'use letters, digits, - and _ only (a JetStream bucket name)' });

/** Schema of the NATS checkpoint store's options; unknown keys are errors. */
export const natsCheckpointConfigSchema = z
  .object({
    /** The Object Store bucket holding one object per checkpoint. Default `SLUICE_CHECKPOINTS`. */
    bucket: bucketName.default('SLUICE_CHECKPOINTS'),
    /** The KV bucket holding one manifest per partition (key `p<partition>`), the commit point. Default `SLUICE_MANIFESTS`. */
    manifestBucket: bucketName.default('SLUICE_MANIFESTS'),
    /** Replicas of both buckets: 1 on a single server, 3 on a cluster of three or more. Default 1. */
    replicas: z.union([z.literal(1), z.literal(3)], { error: 'expected 1 (single server) or 3 (a cluster of at least three)' }).default(1),
  })
  .strict();

/** The options after defaults are applied. */
export type NatsCheckpointConfig = z.output<typeof natsCheckpointConfigSchema>;
/** The options as a caller writes them (all optional). */
export type NatsCheckpointConfigInput = z.input<typeof natsCheckpointConfigSchema>;

/** Validates `input` and applies defaults; a ConfigError names each bad path, its value and what was expected. */
export function parseNatsCheckpointConfig(input: unknown): NatsCheckpointConfig {
  const result = natsCheckpointConfigSchema.safeParse(input ?? {}, { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = ['checkpoint', 'nats', ...issue.path].join('.');
    const value = issue.code === 'unrecognized_keys' || issue.input === undefined ? '' : ` (got ${JSON.stringify(issue.input)})`;
    return `${path}: ${issue.message}${value}`;
  });
  throw new ConfigError(`invalid NATS checkpoint store config: ${problems.join('; ')}`);
}
