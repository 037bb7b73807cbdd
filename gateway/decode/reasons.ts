/**
 * Why a payload was refused. The names are stable: they are Prometheus label values
 * (`sluice_gateway_rejected_total{reason="..."}`) and dead-letter reasons, so rename
 * nothing. The numeric codes let a result carry one byte per message (a Uint8Array,
 * transferred from the worker); they are append-only: add new reasons at the end.
 */
export const REASON_CODE = {
  /** Not a rejection: the payload was accepted. */
  accepted: 0,
  /** Protobuf parse failure: truncated or garbage bytes, invalid UTF-8 in a string (protobufjs throws TypeError), … */
  decode_error: 1,
  /** JSON payload that does not parse, or parses to the wrong shape. */
  json_invalid: 2,
  /** No readings at all (no rows, and no series values). */
  empty_batch: 3,
  /** A Reading with none of double/int/bool/string set. */
  no_value: 4,
  /** NaN or ±Infinity as a numeric value. */
  non_finite_value: 5,
  /** Event time before receivedAt − timestampSkewPastMs (a future one is timestamp_future since code 14). */
  timestamp_skew: 6,
  /** Metric name empty or with characters outside [A-Za-z0-9_.:/-]. */
  metric_name_invalid: 7,
  /** Metric name longer than maxMetricNameLength. */
  metric_name_too_long: 8,
  /** More than maxReadingsPerMessage readings in one payload. */
  too_many_readings: 9,
  /** A Series whose time_delta_ms and values differ in length. */
  series_length_mismatch: 10,
  /** seq above 2^53 − 1 (not exact as a double; the log stores seq as Float64). */
  seq_out_of_range: 11,
  /** A reading tag InfluxDB cannot store exactly: empty or too long, a reserved key, a control character, a stray backslash. */
  tag_invalid: 12,
  /** Reserved: the device passed maxMetricsPerDevice. The main thread enforces it, never the worker. */
  cardinality_limit: 13,
  /** Event time after receivedAt + timestampSkewFutureMs (a device clock ahead). */
  timestamp_future: 14,
  /** A mapped payload (ingest.mappings) whose timestamp field is missing or not in the mapping's format. */
  timestamp_invalid: 15,
  /** A value Sluice cannot take: in a mapped payload an array, or an object as a tag; in a Sparkplug B payload a DataSet, Template, Bytes, File, PropertySet or array metric. */
  value_unsupported: 16,
  /** A mapped payload whose sequence field is missing or not a whole number from 1 to 2^53 − 1. */
  seq_invalid: 17,
  /** A Sparkplug B topic whose group, edge node or device id cannot become a Sluice device id (gateway/sparkplug/topic.ts). */
  sparkplug_topic_invalid: 18,
  /** A Sparkplug B data metric whose alias the last birth certificate did not define (or no birth was seen); a rebirth is requested. */
  sparkplug_alias_unknown: 19,
  /** A publish for a device id new to its identity, which already publishes for decode.maxDevicesPerIdentity others. The main thread enforces it, never the worker. */
  device_limit: 20,
} as const;

export type ReasonName = keyof typeof REASON_CODE;
export type RejectReason = Exclude<ReasonName, 'accepted'>;
export type ReasonCode = (typeof REASON_CODE)[ReasonName];

/** Reason names indexed by code: `REASON_NAMES[status[i]]` is a label value. */
export const REASON_NAMES: readonly ReasonName[] = Object.freeze(
  (Object.keys(REASON_CODE) as ReasonName[]).sort((a, b) => REASON_CODE[a] - REASON_CODE[b]),
);

/** Every reject reason (all names but `accepted`), in code order: pre-create one counter per label. */
export const REJECT_REASONS: readonly RejectReason[] = Object.freeze(
  REASON_NAMES.filter((n): n is RejectReason => n !== 'accepted'),
);

/** The name for a status code; throws on a code no reason has (a corrupt or newer result). */
export function reasonName(code: number): ReasonName {
  const name = REASON_NAMES[code];
  if (name === undefined) throw new RangeError(`unknown decode reason code ${code}`);
  return name;
}
