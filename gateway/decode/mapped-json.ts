import type { MappingRules } from '../mappings/index.js';
import type { BatchFields, ReadingFields } from './payload-fields.js';
import { REASON_CODE, type ReasonCode } from './reasons.js';

/**
 * Turns a JSON object published on a mapped topic (`ingest.mappings`) into the fields the
 * payload writer validates, so every limit of the native paths applies unchanged. Each
 * number becomes a double reading, each boolean a bool reading, each string a string
 * reading, named by its path (nested keys joined by the mapping's separator); null is no
 * reading; an array refuses the payload (value_unsupported). Fields named as tags or as
 * the timestamp are not readings. Every reading gets the same tags: the topic levels and
 * fields the mapping names. Time: the timestamp field when the mapping has one (missing or
 * unparsable refuses the payload, timestamp_invalid), else the receive time. seq: the
 * sequence field when the mapping has one (missing, or not a whole number from 1 to
 * 2^53 − 1, refuses the payload, seq_invalid), so a re-send is counted once; else 0,
 * which the processors never de-duplicate.
 */

/** A refused payload: the reason and the dead-letter detail. */
export interface MappingRefusal {
  reason: ReasonCode;
  detail: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const UNSIGNED_INT = /^\d+$/;
const DECIMAL = /^\d+(\.\d+)?$/;
// RFC 3339 §5.6 date-time; 'T' or ' ' (§5.6 NOTE), any number of fraction digits.
const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/** Maps one payload; returns the batch fields, or why it is refused. */
export function mapJsonPayload(bytes: Uint8Array, rules: MappingRules, topic: string): BatchFields | MappingRefusal {
  let doc: unknown;
  try {
    doc = JSON.parse(utf8.decode(bytes));
  } catch (err) {
    return { reason: REASON_CODE.json_invalid, detail: `not JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return { reason: REASON_CODE.json_invalid, detail: `a mapped payload is a JSON object, got ${Array.isArray(doc) ? 'an array' : JSON.stringify(doc)}` };
  }
  const tags: Record<string, string> = {};
  if (rules.topicTags.length > 0) {
    const levels = topic.split('/');
    for (const [key, at] of rules.topicTags) tags[key] = levels[at]!;
  }
  const walk = new Walk(rules, tags);
  const refusal = walk.object(doc as Record<string, unknown>, '');
  if (refusal !== undefined) return refusal;
  let timeUnixMs = 0; // the receive time
  if (rules.timestamp !== undefined) {
    const { field, format } = rules.timestamp;
    if (walk.time === undefined) return { reason: REASON_CODE.timestamp_invalid, detail: `timestamp field "${field}" is missing` };
    const t = parseTime(walk.time, format);
    if (!(t > 0)) return { reason: REASON_CODE.timestamp_invalid, detail: `timestamp field "${field}" ${show(walk.time)} is not a ${format} time` };
    timeUnixMs = t;
  }
  if (timeUnixMs !== 0) for (const r of walk.readings) r.timeUnixMs = timeUnixMs;
  let seq = 0;
  if (rules.sequence !== undefined) {
    seq = parseSequence(walk.seq);
    if (seq === 0) {
      const what = walk.seq === undefined ? 'is missing' : `${show(walk.seq)} is not a whole number from 1 to 2^53 − 1`;
      return { reason: REASON_CODE.seq_invalid, detail: `sequence field "${rules.sequence}" ${what}` };
    }
  }
  return { seq, readings: walk.readings };
}

/** The depth-first walk over the payload's fields, collecting readings, tags and the timestamp. */
class Walk {
  readonly readings: ReadingFields[] = [];
  time: unknown = undefined;
  seq: unknown = undefined;

  constructor(
    private readonly rules: MappingRules,
    private readonly tags: Record<string, string>,
  ) {}

  object(obj: Record<string, unknown>, prefix: string): MappingRefusal | undefined {
    const { separator, timestamp, fieldTags, include, exclude } = this.rules;
    for (const key of Object.keys(obj)) {
      const path = prefix === '' ? key : `${prefix}${separator}${key}`;
      const v = obj[key];
      if (path === timestamp?.field) {
        this.time = v;
        continue;
      }
      if (path === this.rules.sequence) {
        this.seq = v;
        continue;
      }
      if (v === null || exclude.has(path)) continue;
      if (fieldTags.has(path)) {
        if (typeof v === 'object') return unsupported(path, v, 'a tag value is a string, number or boolean');
        this.tags[path] = String(v);
        continue;
      }
      if (Array.isArray(v)) {
        if (include !== undefined && !include.has(path)) continue;
        return unsupported(path, v, 'name the array in fields.exclude, or publish its elements as separate fields');
      }
      if (typeof v === 'object') {
        const refused = this.object(v as Record<string, unknown>, path);
        if (refused !== undefined) return refused;
        continue;
      }
      if (include !== undefined && !include.has(path)) continue;
      const reading: ReadingFields = { metric: path, tags: this.tags };
      if (typeof v === 'number') reading.doubleValue = v;
      else if (typeof v === 'boolean') reading.boolValue = v;
      else reading.stringValue = v as string;
      this.readings.push(reading);
    }
    return undefined;
  }
}

/** A sequence field's value as a seq, 0 when it is not a whole number from 1 to 2^53 − 1 (a number or a decimal string). */
function parseSequence(v: unknown): number {
  const n = typeof v === 'string' && UNSIGNED_INT.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 1 ? n : 0;
}

function unsupported(path: string, v: unknown, hint: string): MappingRefusal {
  return { reason: REASON_CODE.value_unsupported, detail: `field "${path}" is ${Array.isArray(v) ? 'an array' : 'an object'}: ${hint}` };
}

/** Unix ms of a timestamp value in the given format; NaN (or ≤ 0) when it is not one. */
export function parseTime(v: unknown, format: 'unix_s' | 'unix_ms' | 'unix_ns' | 'rfc3339'): number {
  if (format === 'rfc3339') {
    if (typeof v !== 'string') return NaN;
    const m = RFC3339.exec(v);
    if (!m) return NaN;
    // Date.parse takes at most millisecond digits reliably: truncate the fraction to 3.
    const fraction = m[3] === undefined ? '' : `.${m[3].slice(0, 3).padEnd(3, '0')}`;
    return Date.parse(`${m[1]}T${m[2]}${fraction}${m[4]!.toUpperCase()}`);
  }
  if (typeof v === 'string') {
    if (format === 'unix_ns') return UNSIGNED_INT.test(v) ? Number(BigInt(v) / 1_000_000n) : NaN;
    if (!DECIMAL.test(v)) return NaN;
    v = Number(v);
  }
  if (typeof v !== 'number') return NaN;
  if (format === 'unix_s') return Math.round(v * 1000);
  if (format === 'unix_ms') return Math.round(v);
  return Math.floor(v / 1e6); // a double holds ns times to ~256 ns: milliseconds stay exact
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}
