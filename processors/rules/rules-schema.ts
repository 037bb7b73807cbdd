import { z } from 'zod';
import { AGGREGATES, COMPARISONS, SEVERITIES } from './rule.js';

/**
 * The shape of a rules file (YAML), checked by zod; unknown keys are errors at every
 * level. What needs the configured windows or more than one field (exactly one kind, a
 * known window, `for` and `over` in whole window steps, a clear condition that does not
 * overlap its firing one, unique names) is checked by rules-file.ts on top, so that a
 * file with several problems gets all of them at once.
 *
 * ```yaml
 * rules:
 *   - name: overheating              # unique; letters, digits, _ . -
 *     severity: critical             # info | warning | critical
 *     description: cold room too warm  # optional
 *     devices:                       # optional; absent = every device
 *       ids: [fridge-*]              # globs: * = any run of characters
 *       tags: { site: oslo }         # registry tags, all must match
 *       readingTags: { zone: top }   # the reading's tags, all must match
 *     window: telemetry_10s          # optional: default the first configured window
 *     threshold: { metric: temp, aggregate: mean, op: '>', value: 8, for: 3, clear: { op: '<', value: 6 } }
 * ```
 */

/** A rule name: it becomes a tag of alert points and part of alert ids. */
export const RULE_NAME = /^[A-Za-z0-9_.-]+$/;
/** A duration in a rules file has a unit: a bare number would read as windows in `threshold.for` and as ms elsewhere. */
export const RULE_DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/;

const FOR_EXPECTED = 'expected a number of windows (e.g. 3) or a duration with a unit (e.g. "3m")';
const DURATION_EXPECTED = 'expected a duration with a unit, e.g. "30s", "2m" or "1h"';

const metric = z.string({ error: 'expected a metric name' }).min(1, { error: 'expected a metric name, not an empty string' });
const aggregate = z.enum(AGGREGATES, { error: `expected one of ${AGGREGATES.join(', ')}` });
const op = z.enum(COMPARISONS, { error: `expected one of ${COMPARISONS.join(' ')} (quote them in YAML: '>')` });
const value = z.number({ error: 'expected a number' }).finite({ error: 'expected a finite number' });
const ruleDuration = z.string({ error: DURATION_EXPECTED }).regex(RULE_DURATION, { error: DURATION_EXPECTED });
const tagMap = z.record(z.string().min(1, { error: 'expected a tag key' }), z.string({ error: 'expected a tag value (a string: quote numbers)' }), {
  error: 'expected a map of tag key to value, e.g. { site: oslo }',
});

const condition = z.object({ op, value }).strict();
const metricCondition = z.object({ metric, aggregate, op, value }).strict();

export const thresholdSchema = z
  .object({
    metric,
    aggregate,
    op,
    value,
    /** Consecutive windows the condition must hold: a count, or a duration in whole window steps. */
    for: z.union([z.number().int({ error: FOR_EXPECTED }).positive({ error: FOR_EXPECTED }), ruleDuration], { error: FOR_EXPECTED }),
    /** Default: the negation of the firing condition. */
    clear: condition.optional(),
  })
  .strict();

export const rateSchema = z
  .object({
    metric,
    aggregate: aggregate.default('mean'),
    over: ruleDuration,
    op,
    /** Change per second of event time. */
    value,
  })
  .strict();

export const absenceSchema = z
  .object({
    /** Absent: any reading counts. */
    metric: metric.optional(),
    for: ruleDuration,
  })
  .strict();

export const sequenceSchema = z.object({ first: metricCondition, then: metricCondition, within: ruleDuration }).strict();

export const selectorSchema = z
  .object({
    ids: z.array(z.string().min(1, { error: 'expected a device id or glob' }), { error: 'expected a list of device ids or globs' }).min(1, { error: 'expected at least one id (leave ids out to select every device)' }).optional(),
    tags: tagMap.optional(),
    readingTags: tagMap.optional(),
  })
  .strict();

export const ruleSchema = z
  .object({
    name: z.string({ error: 'expected a rule name' }).regex(RULE_NAME, { error: 'expected letters, digits, _ . and - only' }),
    severity: z.enum(SEVERITIES, { error: `expected one of ${SEVERITIES.join(', ')}` }),
    description: z.string({ error: 'expected text' }).optional(),
    devices: selectorSchema.optional(),
    window: z.string({ error: 'expected the name of a configured window' }).optional(),
    threshold: thresholdSchema.optional(),
    rate: rateSchema.optional(),
    absence: absenceSchema.optional(),
    sequence: sequenceSchema.optional(),
  })
  .strict();

export const rulesFileSchema = z.object({ rules: z.array(ruleSchema, { error: 'expected a list of rules (rules: [] for none)' }) }).strict();

export type RawRule = z.output<typeof ruleSchema>;
