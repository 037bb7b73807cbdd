import { ReadingBatch, type IReading, type ISeries } from '../proto/index.js';
import type { MalformedKind, PlannedMessage } from './fleet-plan.js';
import type { Shape } from './options.js';

/** An MQTT publish a device makes: its topic suffix (protobuf or JSON) and payload. */
export interface EncodedMessage {
  json: boolean;
  payload: Buffer;
}

const YEAR_MS = 365 * 86_400_000;

/** The payload of a planned message in the requested shape (or its broken variant). */
export function encodeMessage(message: PlannedMessage, metricNames: readonly string[], shape: Shape): EncodedMessage {
  const seq = message.seq;
  if (message.malformed !== undefined) return malformedPayload(message.malformed, seq, metricNames[0]!, message.time[0]!);
  if (shape === 'json') {
    const readings = Array.from(message.time, (t, j) => ({ metric: metricNames[message.metric[j]!]!, timeUnixMs: t, doubleValue: message.value[j]! }));
    return { json: true, payload: Buffer.from(JSON.stringify({ seq, readings })) };
  }
  if (shape === 'rows') {
    const readings: IReading[] = Array.from(message.time, (t, j) => ({ metric: metricNames[message.metric[j]!]!, timeUnixMs: t, doubleValue: message.value[j]! }));
    return { json: false, payload: Buffer.from(ReadingBatch.encode({ seq, readings }).finish()) };
  }
  return { json: false, payload: Buffer.from(ReadingBatch.encode({ seq, series: toSeries(message, metricNames) }).finish()) };
}

/** One Series per metric, in the order metrics first appear; values keep their order within a metric. */
function toSeries(message: PlannedMessage, metricNames: readonly string[]): ISeries[] {
  const byMetric = new Map<number, { start: number; deltas: number[]; values: number[] }>();
  for (let j = 0; j < message.time.length; j++) {
    const m = message.metric[j]!;
    let s = byMetric.get(m);
    if (!s) byMetric.set(m, (s = { start: message.time[j]!, deltas: [], values: [] }));
    s.deltas.push(message.time[j]! - s.start);
    s.values.push(message.value[j]!);
  }
  return [...byMetric].map(([m, s]) => ({ metric: metricNames[m]!, startUnixMs: s.start, timeDeltaMs: s.deltas, values: s.values }));
}

/** A payload the gateway must refuse with reason `kind`. */
function malformedPayload(kind: MalformedKind, seq: number, metric: string, time: number): EncodedMessage {
  const proto = (readings: IReading[]): EncodedMessage => ({ json: false, payload: Buffer.from(ReadingBatch.encode({ seq, readings }).finish()) });
  switch (kind) {
    case 'decode_error':
      return { json: false, payload: Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]) };
    case 'json_invalid':
      return { json: true, payload: Buffer.from(`{"seq": ${seq}, "readings": [`) };
    case 'empty_batch':
      return proto([]);
    case 'non_finite_value':
      return proto([{ metric, timeUnixMs: time, doubleValue: NaN }]);
    case 'metric_name_invalid':
      return proto([{ metric: `${metric} with spaces`, timeUnixMs: time, doubleValue: 1 }]);
    case 'timestamp_skew':
      return proto([{ metric, timeUnixMs: time - YEAR_MS, doubleValue: 1 }]); // past the 7-day skew
  }
}
