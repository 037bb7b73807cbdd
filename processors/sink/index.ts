export { influxConfigSchema, outputsConfigSchema, type InfluxConfig, type InfluxConfigInput, type OutputsConfig } from './config.js';
export { PointInvalidError, SinkClosedError, SinkGateClosedError, SinkRejectedError, SinkTlsError, SinkUnavailableError } from './errors.js';
export { InfluxHttp, type Attempt, type QueryBody } from './influx-http.js';
export { InfluxSink, type InfluxSinkOptions, type WriteGate } from './influx-sink.js';
export { InfluxWriter, type DatabaseState, type InfluxWriterConfig, type InfluxWriterOptions, type RetentionPolicyState } from './influx-writer.js';
export { influxqlDelete, v2DeleteRequest, type V2DeleteRequest } from './point-delete.js';
export { createRetentionPolicyStatement, outputOf, quoteIdent, retentionPoliciesUsed, retentionRoute, type RetentionPolicies, type RetentionPolicyDefinition } from './retention.js';
export { encodePoint, lineKey, pointKey, seriesText, toLineProtocol, type EncodedPoint, type FieldValue, type SinkPoint, type SinkPointId } from './point.js';
