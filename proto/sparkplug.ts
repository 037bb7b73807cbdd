// Order matters: Long must be off before the generated module evaluates (see
// protobuf-numbers.ts): 64-bit fields (timestamps, aliases, seq, long_value) decode to
// plain numbers, exact up to 2^53 − 1.
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
export type DecodedSparkplugPayload = ReturnType<typeof SparkplugPayload.decode>;
export type DecodedSparkplugMetric = ReturnType<typeof SparkplugMetric.decode>;

/** Sparkplug B metric datatypes (the `DataType` enum, Sparkplug 3.0 §6.4.16). */
export const SparkplugDataType = org.eclipse.tahu.protobuf.DataType;
