/**
 * Topic patterns of `ingest.mappings`: MQTT topic levels where `+name` is a named
 * single-level wildcard (its value can be the device id or a tag), `+` an anonymous one,
 * and anything else a literal level. No `#`: a mapping names every level it reads, so a
 * topic's level count is fixed and a device id never comes from a variable depth.
 */

/** One level of a parsed pattern: a literal, or a wildcard with its name ('' when anonymous). */
export type PatternLevel = { literal: string } | { name: string };

const LEVEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses a pattern; returns its levels, or what is wrong with it (a sentence saying what to write instead). */
export function parseTopicPattern(pattern: string): PatternLevel[] | string {
  if (pattern === '') return 'the pattern is empty: write its levels, e.g. "factory/+site/+device/telemetry"';
  if (pattern.startsWith('$')) return 'a pattern may not start with "$" (broker topics such as $SYS are never telemetry)';
  if (pattern.includes('\u0000')) return 'a pattern may not contain U+0000';
  const levels: PatternLevel[] = [];
  const names = new Set<string>();
  for (const level of pattern.split('/')) {
    if (level.includes('#')) return 'a pattern may not use "#": name every level (e.g. "+device") so the level count is fixed';
    if (level.startsWith('+')) {
      const name = level.slice(1);
      if (name !== '' && !LEVEL_NAME.test(name)) return `level "${level}": a named level is "+" and a name of letters, digits and _ (not starting with a digit)`;
      if (name !== '' && names.has(name)) return `level name "${name}" is used twice: name each level once`;
      if (name !== '') names.add(name);
      levels.push({ name });
    } else if (level.includes('+')) {
      return `level "${level}": "+" may only start a level ("+" or "+name")`;
    } else {
      levels.push({ literal: level });
    }
  }
  return levels;
}

/** True when the concrete topic's levels match the pattern. */
export function patternMatches(pattern: readonly PatternLevel[], topic: readonly string[]): boolean {
  if (pattern.length !== topic.length) return false;
  // A wildcard first level never matches a topic starting with '$' [MQTT-4.7.2-1].
  if ('name' in pattern[0]! && topic[0]!.startsWith('$')) return false;
  for (let i = 0; i < pattern.length; i++) {
    const level = pattern[i]!;
    if ('literal' in level && level.literal !== topic[i]) return false;
  }
  return true;
}

/**
 * True when some topic matches both patterns: same level count, and at every level a
 * wildcard on either side or the same literal. `devices/+/telemetry` and
 * `devices/+/telemetry/json` are given as patterns too, so a mapping cannot take a native topic.
 */
export function patternsOverlap(a: readonly PatternLevel[], b: readonly PatternLevel[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i]!;
    return 'name' in x || 'name' in y || x.literal === y.literal;
  });
}

/** The index of the named level in the pattern, -1 when it has none of that name. */
export function levelIndex(pattern: readonly PatternLevel[], name: string): number {
  return pattern.findIndex((level) => 'name' in level && level.name === name);
}
