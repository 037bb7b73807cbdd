import { z } from 'zod';
import { duration } from '../../core/index.js';

/** `rules.*`: the rules file the processors evaluate (issue 16). */
export const rulesConfigSchema = z
  .object({
    /** The rules file (YAML, see rules.example.yaml); relative to the config file. Default: none, no rules. */
    file: z.string().min(1).optional(),
    /** Watch the file (its directory) and apply a change without a restart; SIGHUP reloads either way. */
    watch: z.boolean().default(true),
    /** How long after the last change of the file it is read (one save is several events). */
    debounce: duration('100ms'),
    /** Alert transitions are also POSTed here as JSON (at least once, with an Idempotency-Key header), when set. */
    webhook: z
      .object({
        url: z.url({ protocol: /^https?$/, error: 'rules.webhook.url must be an http:// or https:// URL' }).optional(),
        /** One request's deadline; a timeout is retried like any failure. */
        timeout: duration('5s'),
        /** The longest wait between retries (they back off from 100 ms). */
        maxRetryDelay: duration('30s'),
        /** Transitions waiting while the receiver is down; past it the oldest are dropped (they are in InfluxDB) and counted. */
        maxQueued: z.number().int().positive().default(10_000),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type RulesConfig = z.infer<typeof rulesConfigSchema>;
