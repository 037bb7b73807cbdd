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
  })
  .strict();

export type RulesConfig = z.infer<typeof rulesConfigSchema>;
