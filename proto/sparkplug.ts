// Order matters: Long must be off before the generated module evaluates (see
// protobuf-numbers.ts): 64-bit fields (timestamps, aliases, seq, long_value) decode to
// plain numbers, exact up to 2^53 − 1.
import protobuf from 'protobufjs/minimal.js';
import './protobuf-numbers.js';
import { org } from './generated/sparkplug_b.js';

/**
 * Generated static codec for the Sparkplug B payload (package org.eclipse.tahu.protobuf,
 * proto/sparkplug_b.proto). Decoding is the gateway's; encoding is for NCMD rebirth
 * requests and for tests.
 */
export const SparkplugPayload = org.eclipse.tahu.protobuf.Payload;
export const SparkplugMetric = org.eclipse.tahu.protobuf.Payload.Metric;
export type SparkplugPayloadProps = org.eclipse.tahu.protobuf.Payload.$Properties;
export type SparkplugMetricProps = org.eclipse.tahu.protobuf.Payload.Metric.$Properties;

/**
 * A decoded metric as Sluice reads it: the generated types say number|Long|null for
 * every optional field, but Long is off and proto2 defaults live on the prototype, so a
 * decoded field is always its type ('' / 0 / false when absent: `Object.hasOwn` tells
 * presence). `value` names the oneof member set, if any.
 */
export interface DecodedSparkplugMetric {
  name: string;
  alias: number;
  timestamp: number;
  datatype: number;
  isNull: boolean;
  isTransient: boolean;
  value?: string;
  intValue?: number;
  longValue?: number;
  floatValue?: number;
  doubleValue?: number;
  booleanValue?: boolean;
  stringValue?: string;
}

export interface DecodedSparkplugPayload {
  timestamp: number;
  seq: number;
  metrics: DecodedSparkplugMetric[];
}

/**
 * Reads every uint64 field as int64. An Int64 metric travels as its two's complement in
 * `long_value` (uint64, Sparkplug 3.0 §6.4.16); read unsigned without Long, -6 would be
 * 2^64 − 6, which a double rounds to 2^64, and the value would be lost. Read signed it is
 * exactly -6. A UInt64 value at or above 2^63 then reads negative: add 2^64 (it is beyond
 * 2^53, inexact either way). Timestamps, aliases and seq never come near 2^63.
 */
class SignedLongReader extends protobuf.Reader {
  // Typed Long by protobufjs; with Long off (protobuf-numbers.ts) both return numbers.
  override uint64(): ReturnType<protobuf.Reader['int64']> {
    return this.int64();
  }
}

/** Decodes a Sparkplug B payload (64-bit fields read signed, see SignedLongReader); throws on bytes that are not one. */
export function decodeSparkplugPayload(bytes: Uint8Array): DecodedSparkplugPayload {
  return SparkplugPayload.decode(new SignedLongReader(bytes)) as unknown as DecodedSparkplugPayload;
}

/** Sparkplug B metric datatypes (the `DataType` enum, Sparkplug 3.0 §6.4.16). */
export const SparkplugDataType = org.eclipse.tahu.protobuf.DataType;

/**
 * A payload's `seq` (field 3) without decoding its metrics: the main thread checks every
 * Sparkplug message's seq in arrival order, and this skims the top-level fields only,
 * skipping the metrics unread. Undefined when absent or the bytes do not parse (the
 * worker then refuses the payload with the reason).
 */
export function peekSparkplugSeq(bytes: Uint8Array): number | undefined {
  try {
    const r = new SignedLongReader(bytes);
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (tag === ((3 << 3) | 0)) return r.uint64() as unknown as number;
      r.skipType(tag & 7);
    }
  } catch {
    // not a protobuf: no seq
  }
  return undefined;
}
