import type { BatchFields, ReadingFields, SeriesFields } from './payload-fields.js';

/**
 * Reads a JSON payload (devices/{id}/telemetry/json) into the same fields the protobuf
 * decoder yields, following the proto3 JSON mapping: camelCase or snake_case names,
 * 64-bit integers as numbers or decimal strings, doubles as numbers or the strings
 * "NaN"/"Infinity"/"-Infinity"/decimal, null = absent (an intValue string is exact over
 * the whole int64 range; a number past 2^53 is what JSON.parse made of it). Readings may
 * also use the convenience `value` (number → double, boolean → bool, string → string).
 * Unknown fields are refused (as proto3 JSON parsers do by default): a misspelt
 * `timestamp` would otherwise silently become the receive time.
 * This is the slow path; devices that care about cost send protobuf Series.
 */

/** A shape problem; its message is the `json_invalid` detail. */
class JsonShapeError extends Error {}

// fatal: invalid UTF-8 is a json_invalid payload, not text with U+FFFD in it.
const utf8 = new TextDecoder('utf-8', { fatal: true });
const INT_STRING = /^-?\d+$/;
const DECIMAL_STRING = /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
// A Map, not an object literal: a key like "constructor" must not find Object.prototype.
const NON_FINITE_STRINGS = new Map([['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity]]);

/** Parses and shape-checks a JSON payload; returns the fields, or the `json_invalid` detail. */
export function parseJsonPayload(bytes: Uint8Array): BatchFields | string {
  let doc: unknown;
  try {
    doc = JSON.parse(utf8.decode(bytes));
  } catch (err) {
    return `not JSON: ${err instanceof Error ? err.message : String(err)}`;
  }
  try {
    return readBatch(doc);
  } catch (err) {
    if (err instanceof JsonShapeError) return err.message;
    throw err;
  }
}

function readBatch(doc: unknown): BatchFields {
  const o = object(doc, 'payload');
  const out: BatchFields = { seq: 0, readings: null, series: null };
  for (const key of Object.keys(o)) {
    const v = o[key];
    if (v === null) continue;
    switch (key) {
      case 'seq':
        out.seq = int64(v, 'seq', true);
        break;
      case 'readings':
        out.readings = array(v, 'readings').map((r, i) => readReading(r, `readings[${i}]`));
        break;
      case 'series':
        out.series = array(v, 'series').map((s, i) => readSeries(s, `series[${i}]`));
        break;
      default:
        throw new JsonShapeError(`payload.${key}: unknown field (expected seq, readings, series)`);
    }
  }
  return out;
}

function readReading(doc: unknown, at: string): ReadingFields {
  const o = object(doc, at);
  // Every field set up front: one object shape for all JSON readings.
  const r: ReadingFields = { metric: '', timeUnixMs: 0, doubleValue: null, intValue: null, boolValue: null, stringValue: null, tags: null };
  let values = 0;
  for (const key of Object.keys(o)) {
    const v = o[key];
    if (v === null) continue;
    switch (key) {
      case 'metric':
        r.metric = string(v, `${at}.metric`);
        break;
      case 'timeUnixMs':
      case 'time_unix_ms':
        r.timeUnixMs = int64(v, `${at}.${key}`, false);
        break;
      case 'doubleValue':
      case 'double_value':
        r.doubleValue = double(v, `${at}.${key}`);
        values++;
        break;
      case 'intValue':
      case 'int_value':
        r.intValue = intValue(v, `${at}.${key}`);
        values++;
        break;
      case 'boolValue':
      case 'bool_value':
        if (typeof v !== 'boolean') throw wrongType(`${at}.${key}`, 'a boolean', v);
        r.boolValue = v;
        values++;
        break;
      case 'stringValue':
      case 'string_value':
        r.stringValue = string(v, `${at}.${key}`);
        values++;
        break;
      case 'value':
        if (typeof v === 'number') r.doubleValue = v;
        else if (typeof v === 'boolean') r.boolValue = v;
        else if (typeof v === 'string') r.stringValue = v;
        else throw wrongType(`${at}.value`, 'a number, boolean or string', v);
        values++;
        break;
      case 'tags':
        r.tags = tags(v, `${at}.tags`);
        break;
      default:
        throw new JsonShapeError(`${at}.${key}: unknown field`);
    }
  }
  // proto3 JSON refuses two members of one oneof; so do we, rather than pick one.
  if (values > 1) throw new JsonShapeError(`${at}: more than one value field set`);
  return r;
}

function readSeries(doc: unknown, at: string): SeriesFields {
  const o = object(doc, at);
  const s: SeriesFields = { metric: '', startUnixMs: 0, timeDeltaMs: null, values: null };
  for (const key of Object.keys(o)) {
    const v = o[key];
    if (v === null) continue;
    switch (key) {
      case 'metric':
        s.metric = string(v, `${at}.metric`);
        break;
      case 'startUnixMs':
      case 'start_unix_ms':
        s.startUnixMs = int64(v, `${at}.${key}`, false);
        break;
      case 'timeDeltaMs':
      case 'time_delta_ms': {
        const a = array(v, `${at}.${key}`);
        const out = new Array<number>(a.length);
        for (let i = 0; i < a.length; i++) out[i] = int64(a[i], `${at}.${key}[${i}]`, false);
        s.timeDeltaMs = out;
        break;
      }
      case 'values': {
        const a = array(v, `${at}.values`);
        const out = new Array<number>(a.length);
        for (let i = 0; i < a.length; i++) out[i] = double(a[i], `${at}.values[${i}]`);
        s.values = out;
        break;
      }
      default:
        throw new JsonShapeError(`${at}.${key}: unknown field`);
    }
  }
  return s;
}

function object(v: unknown, at: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw wrongType(at, 'an object', v);
  return v as Record<string, unknown>;
}

function array(v: unknown, at: string): unknown[] {
  if (!Array.isArray(v)) throw wrongType(at, 'an array', v);
  return v;
}

function string(v: unknown, at: string): string {
  if (typeof v !== 'string') throw wrongType(at, 'a string', v);
  return v;
}

/** An int64/uint64: an integer number or a decimal string (proto3 JSON writes them as strings). */
function int64(v: unknown, at: string, unsigned: boolean): number {
  let n = NaN;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && INT_STRING.test(v)) n = Number(v);
  // Above 2^53 a JSON number is already rounded; still an integer, so seq can say out-of-range.
  if (!Number.isInteger(n) || (unsigned && n < 0)) {
    throw wrongType(at, unsigned ? 'a non-negative integer (number or decimal string)' : 'an integer (number or decimal string)', v);
  }
  return n;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** Up to 15 digits a decimal string is a safe integer: Number() is exact and cheaper than BigInt(). */
const SAFE_DIGITS = 15;

/**
 * An int_value (sint64): an integer number, or a decimal string, which is exact: a bigint
 * past 2^53 (a JSON number there was already rounded by JSON.parse; it is kept as it
 * came). Outside int64 it is refused, as proto3 JSON parsers do.
 */
function intValue(v: unknown, at: string): number | bigint {
  if (typeof v === 'string' && INT_STRING.test(v)) {
    if (v.length - (v.startsWith('-') ? 1 : 0) <= SAFE_DIGITS) return Number(v);
    const big = BigInt(v);
    if (big >= INT64_MIN && big <= INT64_MAX) return big >= -Number.MAX_SAFE_INTEGER && big <= Number.MAX_SAFE_INTEGER ? Number(big) : big;
  } else if (typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 63) {
    return v;
  }
  throw wrongType(at, 'an int64 (an integer number, or a decimal string from -9223372036854775808 to 9223372036854775807)', v);
}

/** A double: a number, a decimal string, or "NaN"/"Infinity"/"-Infinity" (refused later as non-finite). */
function double(v: unknown, at: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const special = NON_FINITE_STRINGS.get(v);
    if (special !== undefined) return special;
    if (DECIMAL_STRING.test(v)) return Number(v);
  }
  throw wrongType(at, 'a number', v);
}

function tags(v: unknown, at: string): Record<string, string> {
  const o = object(v, at);
  for (const key of Object.keys(o)) string(o[key], `${at}.${key}`);
  return o as Record<string, string>;
}

function wrongType(at: string, expected: string, got: unknown): JsonShapeError {
  let shown: string;
  try {
    shown = JSON.stringify(got) ?? String(got);
  } catch {
    // JSON.parse takes 100k levels of nesting; stringifying them back overflows the stack.
    shown = 'a value nested too deeply to show';
  }
  return new JsonShapeError(`${at}: expected ${expected}, got ${shown.length > 40 ? `${shown.slice(0, 40)}…` : shown}`);
}
