/**
 * The canonical tag set: how a set of tags travels from the gateway through the log to
 * the processors, as one string that is also the state key. `k=v,k2=v2`, sorted by key
 * (code-unit order), '' when there are none; `\`, `,` and `=` inside keys and values are
 * escaped with `\`, so different tag sets never share a string and parsing gives back
 * exactly the tags that went in.
 */

/** Tag keys no device or reading may use, with why. */
const RESERVED_TAG_KEYS: ReadonlyMap<string, string> = new Map([
  ['device', 'set by the gateway from the authenticated identity'],
  ['metric', 'set by the gateway from the reading'],
  ['time', 'InfluxDB refuses it (400 "invalid tag key")'],
  ['_measurement', 'reserved by InfluxDB 2.x'],
  ['_field', 'reserved by InfluxDB 2.x'],
  ['_value', 'reserved by InfluxDB 2.x'],
  ['_start', 'reserved by InfluxDB 2.x'],
  ['_stop', 'reserved by InfluxDB 2.x'],
  // A tag named like a field of the same point is stored, but InfluxQL then shows the
  // field as `count_1`: every dashboard query of that series would read the wrong column.
  ...['count', 'sum', 'min', 'max', 'mean', 'first', 'last', 'stddev', 'p50', 'p90', 'p99', 'value', 'value_bool', 'value_int', 'value_str', 'window'].map(
    (f) => [f, `a field name of Sluice's points`] as [string, string],
  ),
]);

/** Control characters: line protocol has no way to carry them (escaped, they come back as two characters). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
/** A backslash last, or before a character line protocol escapes: InfluxDB would read it as escaping that character. */
const UNSTORABLE_BACKSLASH = /\\([, =]|$)/;

/**
 * Why InfluxDB could not store this tag exactly as given (undefined when it can): a
 * reserved key, an empty or over-long key or value, a control character, or a backslash
 * at the end or before `,`, `=` or a space.
 */
export function tagProblem(key: string, value: string, maxLength: number): string | undefined {
  if (key.length === 0 || key.length > maxLength || value.length === 0 || value.length > maxLength) return `key and value must be 1..${maxLength} characters`;
  const reserved = RESERVED_TAG_KEYS.get(key);
  if (reserved !== undefined) return `tag key ${JSON.stringify(key)} is reserved (${reserved})`;
  for (const text of [key, value]) {
    if (CONTROL.test(text)) return 'control characters (newline, tab, …) cannot be stored in a tag';
    if (text.includes('\\') && UNSTORABLE_BACKSLASH.test(text)) return 'a backslash at the end or before a comma, space or = cannot be stored in a tag';
  }
  return undefined;
}

function escape(text: string): string {
  return text.includes('\\') || text.includes(',') || text.includes('=') ? text.replace(/[\\,=]/g, (c) => `\\${c}`) : text;
}

/** The canonical string of a tag set. */
export function encodeTagSet(tags: Readonly<Record<string, string>>): string {
  const keys = Object.keys(tags).sort();
  let out = '';
  for (let i = 0; i < keys.length; i++) out += `${i === 0 ? '' : ','}${escape(keys[i]!)}=${escape(tags[keys[i]!]!)}`;
  return out;
}

/** Parses a canonical tag set into `into` (later keys overwrite), the inverse of encodeTagSet. */
export function parseTagSet(canonical: string, into: Record<string, string> = {}): Record<string, string> {
  if (canonical === '') return into;
  let key: string | undefined;
  let current = '';
  for (let i = 0; i < canonical.length; i++) {
    const c = canonical[i]!;
    if (c === '\\' && i + 1 < canonical.length) current += canonical[++i];
    else if (c === '=' && key === undefined) {
      key = current;
      current = '';
    } else if (c === ',') {
      into[key ?? ''] = current;
      key = undefined;
      current = '';
    } else current += c;
  }
  into[key ?? ''] = current;
  return into;
}
