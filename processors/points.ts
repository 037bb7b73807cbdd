import { parseTagSet, TEXT_KIND_BOOL, type ColumnarBatch } from '../proto/index.js';
import type { FieldValue, SinkPoint, SinkPointId } from './sink/index.js';
import type { AlertTransition } from './rules/index.js';
import type { FiredWindow, LateReading } from './windowing/window-operator.js';

/** Tags of a point: the reading's own tags, then the device's registry tags (which win), then device and metric. */
export function pointTags(device: string, metric: string, deviceTags: string, readingTags: string): Record<string, string> {
  const tags = parseTagSet(readingTags);
  parseTagSet(deviceTags, tags);
  tags.device = device;
  tags.metric = metric;
  return tags;
}

/**
 * A fired window as its InfluxDB point: measurement = window name, time = window start.
 * A field whose value overflowed the float range (sum or stddev of values near ±1.8e308)
 * is left out: InfluxDB stores only finite floats, and the point's other fields (count,
 * min, max, …) must not be lost with it.
 */
export function windowPoint(w: FiredWindow): SinkPoint {
  const r = w.result;
  const fields: Record<string, FieldValue> = { count: { int: r.count } };
  const floats = [
    ['sum', r.sum],
    ['min', r.min],
    ['max', r.max],
    ['mean', r.mean],
    ['first', r.first],
    ['last', r.last],
    ['stddev', r.stddev],
    ['p50', r.p50],
    ['p90', r.p90],
    ['p99', r.p99],
  ] as const;
  for (const [name, value] of floats) if (Number.isFinite(value)) fields[name] = value;
  return { measurement: w.window, tags: pointTags(w.device, w.metric, w.deviceTags, w.readingTags), fields, timeMs: w.start };
}

/**
 * The points a fired session replaces (FiredWindow.supersedes): its series at the starts of
 * sessions merged into it or of its own earlier start. The sink deletes them after their
 * writes; none is at the fired window's own start, so its new point stays.
 */
export function supersededPoints(w: FiredWindow): SinkPointId[] {
  if (w.supersedes === undefined || w.supersedes.length === 0) return [];
  const tags = pointTags(w.device, w.metric, w.deviceTags, w.readingTags);
  return w.supersedes.map((timeMs) => ({ measurement: w.window, tags, timeMs }));
}

/** A reading that missed its window (beyond allowed lateness): measurement late_readings. */
export function latePoint(l: LateReading): SinkPoint {
  const tags = pointTags(l.device, l.metric, l.deviceTags, l.readingTags);
  tags.window = l.window;
  return { measurement: 'late_readings', tags, fields: { value: l.value }, timeMs: l.time };
}

/**
 * Raw readings of the accepted messages of a batch, measurement `readings`. InfluxDB fixes
 * a field's type per measurement (and refuses a point whose type conflicts), so numbers go
 * to the float `value`, booleans to `value_bool` and strings to `value_str`: one field
 * could not hold all three. A reading that came as an int has its float `value` (what
 * panels and queries of `value` read, exact up to 2^53) and the exact integer `value_int`.
 */
export function rawPoints(batch: ColumnarBatch, accepted: Uint8Array, emit: (p: SinkPoint) => void): void {
  const s = batch.strings;
  const { intAt, intValue } = batch;
  let k = 0; // the next int reading (intAt is ascending)
  for (let m = 0; m < batch.msgDevice.length; m++) {
    if (accepted[m] !== 1) continue;
    const device = s[batch.msgDevice[m]!]!;
    const deviceTags = s[batch.msgDeviceTags[m]!]!;
    for (let r = m === 0 ? 0 : batch.numEnd[m - 1]!; r < batch.numEnd[m]!; r++) {
      const metric = s[batch.metric[r]!]!;
      const fields: Record<string, FieldValue> = { value: batch.value[r]! };
      while (k < intAt.length && intAt[k]! < r) k++;
      if (k < intAt.length && intAt[k] === r) fields.value_int = { int: intValue[k++]! };
      emit({ measurement: 'readings', tags: pointTags(device, metric, deviceTags, s[batch.tags[r]!]!), fields, timeMs: batch.time[r]! });
    }
    for (let r = m === 0 ? 0 : batch.textEnd[m - 1]!; r < batch.textEnd[m]!; r++) {
      const metric = s[batch.textMetric[r]!]!;
      const tags = pointTags(device, metric, deviceTags, s[batch.textTags[r]!]!);
      const fields: Record<string, FieldValue> = batch.textKind[r] === TEXT_KIND_BOOL ? { value_bool: batch.textValue[r] === 1 } : { value_str: s[batch.textValue[r]!]! };
      emit({ measurement: 'readings', tags, fields, timeMs: batch.textTime[r]! });
    }
  }
}

/**
 * An alert transition as its point in the `alerts` measurement: tags rule, device,
 * severity, state (and the series' reading tags and the device's registry tags), time =
 * the transition's event time. A replay sends the same transition again, which InfluxDB
 * overwrites: the point is written exactly once in effect. `id` is the stable id the MQTT
 * and webhook effects carry.
 */
export function alertPoint(t: AlertTransition): SinkPoint {
  const tags = parseTagSet(t.readingTags);
  parseTagSet(t.deviceTags, tags);
  tags.device = t.device;
  tags.rule = t.rule;
  tags.severity = t.severity;
  tags.state = t.state;
  // firing 1|0 beside the state tag: last("firing") GROUP BY rule, device says what fires now (a tag cannot be last()ed).
  const fields: Record<string, FieldValue> = { firing: { int: t.state === 'firing' ? 1 : 0 }, id: t.id, description: t.description };
  if (Number.isFinite(t.value)) fields.value = t.value;
  if (Number.isFinite(t.threshold)) fields.threshold = t.threshold;
  return { measurement: 'alerts', tags, fields, timeMs: t.time };
}

/**
 * A status record (docs/batch-format.md, MSG_FLAG_STATUS) as its point in `device_status`:
 * tags `device`, the record's own (Sparkplug B: `group`, `edge`, `kind` node|device) and the
 * device's registry tags; fields `online` 1|0 (an integer, as `alerts.firing`: `last("online")
 * GROUP BY "device"` says who is online, and summing those counts them) and `event` (what
 * changed it, e.g. NBIRTH); time = the record's. Undefined for a record without its reading.
 */
export function statusPoint(batch: ColumnarBatch, m: number): SinkPoint | undefined {
  const r = m === 0 ? 0 : batch.textEnd[m - 1]!;
  if (r >= batch.textEnd[m]!) return undefined;
  const s = batch.strings;
  const tags = parseTagSet(s[batch.textTags[r]!]!);
  parseTagSet(s[batch.msgDeviceTags[m]!]!, tags);
  tags.device = s[batch.msgDevice[m]!]!;
  return { measurement: 'device_status', tags, fields: { online: { int: batch.textValue[r] === 1 ? 1 : 0 }, event: s[batch.textMetric[r]!]! }, timeMs: batch.textTime[r]! };
}
