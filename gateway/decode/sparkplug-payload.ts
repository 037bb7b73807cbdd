import { decodeSparkplugPayload, SparkplugDataType as T, type DecodedSparkplugMetric, type DecodedSparkplugPayload } from '../../proto/index.js';
import type { MappingRefusal } from './mapped-json.js';
import type { BatchFields, ReadingFields } from './payload-fields.js';
import { REASON_CODE } from './reasons.js';

/**
 * Turns a Sparkplug B NBIRTH, DBIRTH, NDATA or DDATA payload into the fields the payload
 * writer validates, so every limit of the native paths applies unchanged.
 *
 * Aliases (Sparkplug 3.0 §6.4.2): a data message may name a metric by the alias its birth
 * certificate gave it. The birth is an earlier message, and decode jobs run on any
 * worker, so the state stays on the main thread (gateway/sparkplug/edge-nodes.ts): it
 * decodes each birth there (births are rare) and serializes the alias table ONCE per
 * birth into a job string (`aliasTableJob`); every data message of that node or device
 * refers to that string (a job interns it once however many messages use it, as
 * META_TOPIC carries a mapped topic). A worker parses a table once and keeps it by its
 * id (unique per birth) in a small cache.
 *
 * Readings: a metric's name (its own, or its alias's) with each character outside
 * [A-Za-z0-9_.:/-] replaced by '_' (`Motor 1/RPM` → `Motor_1/RPM`; two names differing only
 * there share a metric); time = the metric's timestamp, else the payload's, else the
 * receive time. Datatype = the metric's, else the birth's for that alias or name. Ints
 * and floats become double readings (Int64/UInt64 beyond 2^53 lose precision: a double
 * holds 53 bits; Int* values travel as two's complement in uint32/uint64, §6.4.16),
 * DateTime a double of unix ms, Boolean a bool reading, String/Text/UUID string readings.
 * DataSet, Bytes, File, Template, PropertySet(List), arrays and Unknown refuse the payload
 * (value_unsupported) with the metric and the type. Not readings: null metrics
 * (is_null), transient ones (is_transient, §6.4.9: not to be historized), `bdSeq` and the
 * `Node Control/*` and `Device Control/*` metrics. seq is 0: the Sparkplug seq wraps at
 * 256, which the processors' de-duplication must not see (see edge-nodes.ts).
 */

/** A birth's metric, as a data message refers to it. */
export interface BirthMetric {
  name: string;
  datatype: number;
}

interface AliasTable {
  scope: string;
  byAlias: Map<number, BirthMetric>;
  byName: Map<string, BirthMetric>;
}

/** The job string of a birth message: names are inline, no table. */
export const BIRTH_JOB = 'B';

/**
 * The job string for data messages under a birth: `D{id}\n{scope}\n{json}`. `id` is unique
 * per birth on this gateway (the worker caches by it); `scope` names the birth for a
 * refusal's detail; json is `[[alias, name, datatype], …]` with alias -1 for none.
 * `metrics` undefined: no birth was seen, every alias is unknown.
 */
export function aliasTableJob(id: number, scope: string, metrics: readonly { alias: number | undefined; name: string; datatype: number }[] | undefined): string {
  const rows = metrics?.map((m) => [m.alias ?? -1, m.name, m.datatype]);
  return `D${id}\n${scope}\n${rows === undefined ? '' : JSON.stringify(rows)}`;
}

const MAX_CACHED_TABLES = 4096;
const tables = new Map<string, AliasTable | undefined>();

/** The table a data job string refers to; undefined when no birth was seen. */
function tableOf(job: string): { scope: string; table: AliasTable | undefined } {
  const idEnd = job.indexOf('\n');
  const scopeEnd = job.indexOf('\n', idEnd + 1);
  const id = job.slice(0, idEnd);
  const scope = job.slice(idEnd + 1, scopeEnd);
  if (tables.has(id)) return { scope, table: tables.get(id) };
  let table: AliasTable | undefined;
  const json = job.slice(scopeEnd + 1);
  if (json !== '') {
    table = { scope, byAlias: new Map(), byName: new Map() };
    for (const [alias, name, datatype] of JSON.parse(json) as [number, string, number][]) {
      const m = { name, datatype };
      if (alias >= 0) table.byAlias.set(alias, m);
      table.byName.set(name, m);
    }
  }
  if (tables.size >= MAX_CACHED_TABLES) tables.delete(tables.keys().next().value!);
  tables.set(id, table);
  return { scope, table };
}

const SKIPPED = /^(?:bdSeq$|Node Control\/|Device Control\/)/;
const NOT_A_METRIC_CHAR = /[^A-Za-z0-9_.:/-]/g;

/** A Sparkplug metric name as a Sluice metric name (see above). */
export function sluiceMetricName(name: string): string {
  return name.replace(NOT_A_METRIC_CHAR, '_');
}

/** True when a birth metric is a reading (see above); the main thread uses it to skip births with none. */
export function isReadingMetric(m: DecodedSparkplugMetric): boolean {
  return !m.isNull && !m.isTransient && !SKIPPED.test(m.name);
}

/** Maps one Sparkplug payload; returns the batch fields, or why it is refused. */
export function mapSparkplugPayload(bytes: Uint8Array, job: string): BatchFields | MappingRefusal {
  let payload: DecodedSparkplugPayload;
  try {
    payload = decodeSparkplugPayload(bytes);
  } catch (err) {
    return { reason: REASON_CODE.decode_error, detail: `Sparkplug B protobuf: ${err instanceof Error ? err.message : String(err)}` };
  }
  const birth = job === BIRTH_JOB;
  const { scope, table } = birth ? { scope: '', table: undefined } : tableOf(job);
  const payloadTime = Object.hasOwn(payload, 'timestamp') ? payload.timestamp : 0;
  const readings: ReadingFields[] = [];
  const metrics = payload.metrics;
  for (let i = 0; i < metrics.length; i++) {
    const m = metrics[i]!;
    let name = m.name;
    let known: BirthMetric | undefined;
    if (name === '' && !birth) {
      if (!Object.hasOwn(m, 'alias')) return { reason: REASON_CODE.sparkplug_alias_unknown, detail: `metrics[${i}] has neither a name nor an alias` };
      known = table?.byAlias.get(m.alias);
      if (known === undefined) {
        const why = table === undefined ? `no birth certificate seen for ${scope} since the gateway started` : `not in the last birth certificate of ${scope}`;
        return { reason: REASON_CODE.sparkplug_alias_unknown, detail: `metrics[${i}]: alias ${m.alias} is unknown: ${why}` };
      }
      name = known.name;
    } else if (name === '') {
      return { reason: REASON_CODE.metric_name_invalid, detail: `metrics[${i}]: a birth certificate metric has no name (Sparkplug 3.0 §6.4.2)` };
    }
    if (m.isNull || m.isTransient || SKIPPED.test(name)) continue;
    const datatype = m.datatype !== 0 ? m.datatype : (known ?? table?.byName.get(name))?.datatype ?? T.Unknown;
    const reading: ReadingFields = { metric: sluiceMetricName(name), timeUnixMs: Object.hasOwn(m, 'timestamp') ? m.timestamp : payloadTime };
    const refusal = setValue(reading, m, datatype);
    if (refusal !== undefined) return { reason: REASON_CODE.value_unsupported, detail: `metrics[${i}] ${JSON.stringify(name)}: ${refusal}` };
    readings.push(reading);
  }
  return { seq: 0, readings };
}

/** Sets the reading's value from the field the datatype names; a refusal's text otherwise. */
function setValue(r: ReadingFields, m: DecodedSparkplugMetric, datatype: number): string | undefined {
  const field = FIELD[datatype];
  if (field === undefined) return `datatype ${T[datatype] ?? datatype} is not supported (ints, floats, Boolean, String, Text, UUID and DateTime are)`;
  // No value at all: the writer refuses it (no_value). A value in another field: a sender bug.
  if (m.value === undefined) return undefined;
  if (m.value !== field) return `datatype ${T[datatype]} carries ${field}, got ${m.value}`;
  switch (datatype) {
    case T.Int8: r.doubleValue = (m.intValue! << 24) >> 24; break;
    case T.Int16: r.doubleValue = (m.intValue! << 16) >> 16; break;
    case T.Int32: r.doubleValue = m.intValue! | 0; break;
    case T.UInt8: case T.UInt16: case T.UInt32: r.doubleValue = m.intValue! >>> 0; break;
    case T.Int64: case T.DateTime: r.doubleValue = m.longValue!; break; // read signed (proto/sparkplug.ts)
    case T.UInt64: r.doubleValue = m.longValue! < 0 ? m.longValue! + 2 ** 64 : m.longValue!; break;
    case T.Float: r.doubleValue = m.floatValue!; break;
    case T.Double: r.doubleValue = m.doubleValue!; break;
    case T.Boolean: r.boolValue = m.booleanValue!; break;
    default: r.stringValue = m.stringValue!; // String, Text, UUID
  }
  return undefined;
}

/** The value field each supported datatype uses (Sparkplug 3.0 §6.4.16). */
const FIELD: Partial<Record<number, string>> = {
  [T.Int8]: 'intValue',
  [T.Int16]: 'intValue',
  [T.Int32]: 'intValue',
  [T.UInt8]: 'intValue',
  [T.UInt16]: 'intValue',
  [T.UInt32]: 'intValue',
  [T.Int64]: 'longValue',
  [T.UInt64]: 'longValue',
  [T.DateTime]: 'longValue',
  [T.Float]: 'floatValue',
  [T.Double]: 'doubleValue',
  [T.Boolean]: 'booleanValue',
  [T.String]: 'stringValue',
  [T.Text]: 'stringValue',
  [T.UUID]: 'stringValue',
};
