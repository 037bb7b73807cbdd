export { influxConfigSchema, outputsConfigSchema, type InfluxConfig, type InfluxConfigInput, type OutputsConfig } from './config.js';
export { PointInvalidError, SinkClosedError, SinkRejectedError, SinkUnavailableError } from './errors.js';
export { InfluxSink, type InfluxSinkOptions } from './influx-sink.js';
export { InfluxWriter, type InfluxWriterConfig, type InfluxWriterOptions } from './influx-writer.js';
export { influxqlDelete, v2DeleteRequest, type V2DeleteRequest } from './point-delete.js';
export { lineKey, pointKey, toLineProtocol, type FieldValue, type SinkPoint, type SinkPointId } from './point.js';
