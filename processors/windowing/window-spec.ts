import { z } from 'zod';
import { duration, parseDuration } from '../../core/index.js';

/**
 * Config schemas owned by the processors: the `windows` list and the `time` block
 * (DESIGN.md, "Public contract"). Unknown keys are errors; every issue carries the path
 * (`windows[1].size`) so the CLI can name key, value and expectation.
 */

/** A window's name becomes its InfluxDB measurement, so it is limited to what needs no escaping. */
const MEASUREMENT_NAME = /^[A-Za-z0-9_]+$/;

/**
 * An optional duration ("10s" or ms). core's `duration()` always has a default, which
 * would hide "size was not given" behind a value, so this variant reuses its parser
 * without one.
 */
const optionalDuration = z
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

const FIELDS_BY_TYPE = { tumbling: ['size'], sliding: ['size', 'slide'], session: ['gap'] } as const;
const EXAMPLES = { size: "'10s'", slide: "'5s'", gap: "'30s'" } as const;

/** One window: tumbling (size), sliding (size, slide ≤ size) or session (gap), with a measurement name. */
export const windowSpecSchema = z
  .object({
    /** Measurement name in InfluxDB: letters, digits and underscores. */
    name: z.string().regex(MEASUREMENT_NAME, 'a window name is its InfluxDB measurement: letters, digits and _ only'),
    type: z.enum(['tumbling', 'sliding', 'session']),
    /** Window length (tumbling, sliding). */
    size: optionalDuration,
    /** Distance between window starts (sliding only); need not divide size. */
    slide: optionalDuration,
    /** Largest silence, inclusive, between two readings of one session (session only). */
    gap: optionalDuration,
  })
  .strict()
  .superRefine((w, ctx) => {
    const wanted: readonly string[] = FIELDS_BY_TYPE[w.type];
    for (const field of ['size', 'slide', 'gap'] as const) {
      const value = w[field];
      if (wanted.includes(field)) {
        if (value === undefined) {
          ctx.addIssue({ code: 'custom', path: [field], message: `a ${w.type} window needs ${field} (e.g. ${EXAMPLES[field]})` });
        } else if (!Number.isSafeInteger(value) || value <= 0) {
          ctx.addIssue({ code: 'custom', path: [field], message: `${field} must be a whole number of milliseconds > 0, got ${value}` });
        }
      } else if (value !== undefined) {
        ctx.addIssue({ code: 'custom', path: [field], message: `${field} does not apply to a ${w.type} window (it takes ${wanted.join(' and ')})` });
      }
    }
    if (w.type === 'sliding' && w.size !== undefined && w.slide !== undefined && w.slide > w.size) {
      ctx.addIssue({ code: 'custom', path: ['slide'], message: `slide (${w.slide} ms) must not exceed size (${w.size} ms): readings would fall between windows` });
    }
  })
  // A discriminated union out, so code that uses a spec needs no `!` on size/slide/gap.
  .transform((w): WindowSpec => {
    if (w.type === 'tumbling') return { name: w.name, type: 'tumbling', size: w.size! };
    if (w.type === 'sliding') return { name: w.name, type: 'sliding', size: w.size!, slide: w.slide! };
    return { name: w.name, type: 'session', gap: w.gap! };
  });

/** A validated window definition; durations in milliseconds. */
export type WindowSpec =
  | { name: string; type: 'tumbling'; size: number }
  | { name: string; type: 'sliding'; size: number; slide: number }
  | { name: string; type: 'session'; gap: number };

/** The default window list: one tumbling 10 s window named telemetry_10s. */
export const DEFAULT_WINDOWS = [{ name: 'telemetry_10s', type: 'tumbling', size: '10s' }] as const;

/** Measurements Sluice writes itself: a window of one of these names would mix its points with theirs. */
const RESERVED_MEASUREMENTS = ['readings', 'late_readings', 'alerts', 'sluice_stats', 'device_status'];

/** `windows`: a list of window specs with unique names (default: DEFAULT_WINDOWS). An empty list means raw readings only. */
export const windowsConfigSchema = z
  .array(windowSpecSchema)
  .superRefine((list, ctx) => {
    const seen = new Map<string, number>();
    list.forEach((w, i) => {
      const first = seen.get(w.name);
      if (RESERVED_MEASUREMENTS.includes(w.name)) {
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `window name "${w.name}" is a measurement Sluice writes itself (${RESERVED_MEASUREMENTS.join(', ')}): choose another` });
      } else if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `window name "${w.name}" is already used by windows[${first}]: names are measurements and must be unique` });
      } else {
        seen.set(w.name, i);
      }
    });
  })
  // prefault (not default) so the default list goes through the schema and its durations are parsed.
  .prefault([...DEFAULT_WINDOWS]);

/** `time`: event-time settings shared by all windows of a partition task. */
export const timeConfigSchema = z
  .object({
    /** How far behind the newest event time a reading may arrive and still be on time (default 5s). */
    maxOutOfOrderness: duration('5s'),
    /** A device with no readings for this long has its open windows fired without waiting for its event time (default 30s). */
    idleTimeout: duration('30s'),
    /** How long after a window fired a late reading still updates it and re-fires it (default 30s). */
    allowedLateness: duration('30s'),
    /**
     * How far behind its receive time a device's reading may be and still go into its
     * window (store-and-forward after an outage); older ones go to late_readings (default 24h).
     */
    maxBackfill: duration('24h'),
  })
  .strict()
  .prefault({});

/** Validated time settings, in milliseconds. */
export type TimeConfig = z.output<typeof timeConfigSchema>;
