/** The log's configuration: schema, defaults and the checked parse, in one place. */
import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import type { FsyncPolicy } from './log.js';

const FSYNC_POLICIES = ['always', 'batch', 'never'] as const satisfies readonly FsyncPolicy[];

/** Schema of the log's options; unknown keys are errors. */
export const logConfigSchema = z
  .object({
    /**
     * Where the log lives: `file`, the embedded FileLog under dataDir (one process holds it:
     * `sluice start`), or `jetstream`, a NATS JetStream stream (the `nats` section) that
     * several `sluice gateway` and `sluice processor` processes share.
     */
    kind: z.enum(['file', 'jetstream']).default('file'),
    /**
     * When appends are fsynced before they resolve. Default 'batch': group commit, one
     * fdatasync of the shared commit log per round, covering every append (of any
     * partition) written in that round. 'always' gives the same guarantee (each append
     * resolves only after an fsync that covers it) and today shares the group-commit path.
     * 'never': resolve after write(2); the log still fsyncs once per segment roll and per
     * index checkpoint, so recovery stays bounded.
     */
    fsync: z.enum(FSYNC_POLICIES).default('batch'),
    /** The shared commit log rolls to a new segment file once the current one reaches this size. Default 64 MiB. */
    segmentBytes: z.number().int().positive().default(64 * 1024 * 1024),
  })
  .strict();

/** The log's options after defaults are applied. */
export type LogConfig = z.output<typeof logConfigSchema>;
/** The log's options as a caller writes them (every key optional). */
export type LogConfigInput = z.input<typeof logConfigSchema>;

/** Validates `input` and applies defaults; a ConfigError names each bad path, value and expectation. */
export function parseLogConfig(input: unknown): LogConfig {
  const result = logConfigSchema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.length > 0 ? `log.${issue.path.join('.')}` : 'log';
    const value = issue.code === 'unrecognized_keys' ? '' : ` (got ${JSON.stringify(issue.input)})`;
    return `${path}: ${issue.message}${value}`;
  });
  throw new ConfigError(`invalid log config: ${problems.join('; ')}`);
}
