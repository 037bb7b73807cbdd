import { z } from 'zod';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "250ms", "5s", "2m", "1h", "7d" or a plain number of milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return value;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) throw new RangeError(`"${value}" is not a duration: use a number of ms or e.g. 250ms, 5s, 2m, 1h, 7d`);
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 'ms']!);
}

/** A zod field for a duration, given as "5s" or milliseconds; parses to milliseconds. */
export function duration(defaultValue: string) {
  return z
    .union([z.number().nonnegative(), z.string()])
    .default(defaultValue)
    .transform((value, ctx) => {
      try {
        return parseDuration(value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    });
}
