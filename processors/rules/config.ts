import { z } from 'zod';

/** `rules.*`: the rules file the processors evaluate (issue 16). */
export const rulesConfigSchema = z
  .object({
    /** The rules file (YAML, see rules.example.yaml); relative to the config file. Default: none, no rules. */
    file: z.string().min(1).optional(),
  })
  .strict();

export type RulesConfig = z.infer<typeof rulesConfigSchema>;
