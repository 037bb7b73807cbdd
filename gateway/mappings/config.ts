import { z } from 'zod';
import { tagProblem } from '../../proto/index.js';
import { levelIndex, parseTopicPattern, patternsOverlap, type PatternLevel } from './topic-pattern.js';

/** The native telemetry topics (devices/{id}/telemetry[/json]), which no mapping may match. */
const NATIVE_PATTERNS: readonly (readonly PatternLevel[])[] = [
  [{ literal: 'devices' }, { name: '' }, { literal: 'telemetry' }],
  [{ literal: 'devices' }, { name: '' }, { literal: 'telemetry' }, { literal: 'json' }],
];

/** Characters a metric name may hold (payload-decoder.ts) that can join path segments. */
const SEPARATORS = ['.', '_', ':', '/', '-'] as const;

const path = (): z.ZodString => z.string().min(1);

/**
 * One `ingest.mappings` entry: which topics it takes, where the device id comes from, and
 * how a JSON object payload becomes readings (every number, boolean and string field a
 * reading named by its path). Defaults are stated on each key.
 */
export const ingestMappingSchema = z
  .object({
    /** Required. Names the mapping in dead letters and logs: 1–64 characters of A-Z a-z 0-9 _ . -. */
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a mapping name is 1–64 characters of A-Z a-z 0-9 _ . -'),
    /** Required. Topic pattern: literal levels, `+name` (named) and `+` (anonymous) levels, no `#`. */
    topic: z.string(),
    /** Default `device`: the named level whose value is the device id. */
    device: z.string().default('device'),
    /** Default `.`: joins the keys of nested objects into the metric name (`{"env":{"t":1}}` → `env.t`). */
    separator: z.enum(SEPARATORS).default('.'),
    /** No default (receive time): the field holding the event time, and its format. */
    timestamp: z
      .object({
        /** Required: the field's path (nested keys joined with the separator). */
        field: path(),
        /** Default `unix_ms`: `unix_s`, `unix_ms`, `unix_ns` (numbers or decimal strings) or `rfc3339`. */
        format: z.enum(['unix_s', 'unix_ms', 'unix_ns', 'rfc3339']).default('unix_ms'),
      })
      .strict()
      .optional(),
    /**
     * No default (not de-duplicated): the field holding the message's sequence number, a
     * whole number from 1 that the device increases per message (a counter, or a time in
     * ms). It is the ReadingBatch seq of the native topics: a QoS 1 re-send after a lost
     * PUBACK carries the same number and is counted once. Without it a re-send counts twice.
     */
    sequence: path().optional(),
    tags: z
      .object({
        /** Default none: named topic levels whose values become tags of every reading, keyed by the level name. */
        fromTopic: z.array(z.string()).default([]),
        /** Default none: field paths whose values become tags (keyed by the path) instead of readings. */
        fromFields: z.array(path()).default([]),
      })
      .strict()
      .prefault({}),
    fields: z
      .object({
        /** Default: every field. When set, only these field paths become readings. */
        include: z.array(path()).optional(),
        /** Default none: field paths that never become readings (an object or array path leaves out all of it). */
        exclude: z.array(path()).default([]),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((m, ctx) => {
    const levels = parseTopicPattern(m.topic);
    if (typeof levels === 'string') {
      ctx.addIssue({ code: 'custom', path: ['topic'], message: levels });
      return;
    }
    if (levelIndex(levels, m.device) < 0 || m.device === '') {
      ctx.addIssue({ code: 'custom', path: ['device'], message: `the topic "${m.topic}" has no level named "+${m.device}": name the level that holds the device id` });
    }
    if (NATIVE_PATTERNS.some((native) => patternsOverlap(levels, native))) {
      ctx.addIssue({ code: 'custom', path: ['topic'], message: 'the pattern matches the native topics devices/{id}/telemetry[/json]: use another first level or level count' });
    }
    m.tags.fromTopic.forEach((name, i) => {
      if (name === m.device) ctx.addIssue({ code: 'custom', path: ['tags', 'fromTopic', i], message: `"${name}" is the device level, already the device tag: leave it out` });
      else if (levelIndex(levels, name) < 0 || name === '') ctx.addIssue({ code: 'custom', path: ['tags', 'fromTopic', i], message: `the topic "${m.topic}" has no level named "+${name}": name the level in the topic` });
      else tagKeyIssue(ctx, ['tags', 'fromTopic', i], name);
    });
    m.tags.fromFields.forEach((field, i) => {
      tagKeyIssue(ctx, ['tags', 'fromFields', i], field);
      if (field === m.timestamp?.field) ctx.addIssue({ code: 'custom', path: ['tags', 'fromFields', i], message: `"${field}" is the timestamp field: a field is a tag or the time, not both` });
    });
    if (m.sequence !== undefined && (m.sequence === m.timestamp?.field || m.tags.fromFields.includes(m.sequence))) {
      ctx.addIssue({ code: 'custom', path: ['sequence'], message: `"${m.sequence}" is also the timestamp or a tag field: a field is one of sequence, timestamp or tag` });
    }
    const tagKeys = [...m.tags.fromTopic, ...m.tags.fromFields];
    const twice = tagKeys.find((key, i) => tagKeys.indexOf(key) !== i);
    if (twice !== undefined) ctx.addIssue({ code: 'custom', path: ['tags'], message: `tag "${twice}" is named twice: name each tag once` });
  });

function tagKeyIssue(ctx: z.RefinementCtx, at: (string | number)[], key: string): void {
  const problem = tagProblem(key, 'x', 128);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', path: at, message: `"${key}" cannot be a tag key: ${problem}` });
}

/** `ingest.mappings`: unique names, and no two patterns that one topic could match. */
export const ingestMappingsSchema = z
  .array(ingestMappingSchema)
  .default([])
  .superRefine((mappings, ctx) => {
    const parsed = mappings.map((m) => parseTopicPattern(m.topic));
    mappings.forEach((m, i) => {
      if (mappings.findIndex((other) => other.name === m.name) < i) {
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `mapping name "${m.name}" is used twice: give each mapping its own name` });
      }
      const mine = parsed[i]!;
      if (typeof mine === 'string') return;
      const earlier = parsed.findIndex((other, j) => j < i && typeof other !== 'string' && patternsOverlap(mine, other));
      if (earlier >= 0) {
        ctx.addIssue({ code: 'custom', path: [i, 'topic'], message: `the pattern can match the same topics as mapping "${mappings[earlier]!.name}" (${mappings[earlier]!.topic}): make one topic fit one mapping` });
      }
    });
  });

/** One mapping as written (keys optional where they have defaults). */
export type IngestMappingInput = z.input<typeof ingestMappingSchema>;
/** One mapping with defaults applied: what the broker hooks and the decode workers get. */
export type IngestMapping = z.output<typeof ingestMappingSchema>;
