export { influxConfigSchema, outputsConfigSchema, type InfluxConfig, type InfluxConfigInput, type OutputsConfig } from './config.js';
export { PointInvalidError, SinkClosedError, SinkRejectedError, SinkUnavailableError } from './errors.js';
export { InfluxSink, type InfluxSinkOptions } from './influx-sink.js';
export { InfluxWriter, type InfluxWriterConfig, type InfluxWriterOptions } from './influx-writer.js';
export { lineKey, toLineProtocol, type FieldValue, type SinkPoint } from './point.js';
