export { REASON_CODE, REASON_NAMES, REJECT_REASONS, reasonName, type ReasonCode, type ReasonName, type RejectReason } from './reasons.js';
export { decodeLimitsSchema, parseDecodeLimits, type DecodeLimits, type DecodeLimitsInput, type PayloadLimits, type WorkerData } from './config.js';
export { decodeMappedPayload, decodePayload, decodeSparkplugPayload, type DecodeContext, type PayloadKind, type PayloadOutcome } from './payload-decoder.js';
export type { BatchFields, ReadingFields, SeriesFields } from './payload-fields.js';
export {
  DecodeJobBuilder,
  jobMessageCount,
  jobPayload,
  resultMetrics,
  KIND_JSON,
  KIND_MAPPED,
  KIND_PROTOBUF,
  KIND_SPARKPLUG,
  KIND_STATUS,
  META_DEVICE,
  META_DEVICE_TAGS,
  META_KIND,
  META_LENGTH,
  META_OFFSET,
  META_PARTITION,
  META_STRIDE,
  META_TOPIC,
  NO_INDEX,
  type DecodeJob,
  type JobKind,
  type MappedPayload,
  type SparkplugJob,
  type DecodeResult,
} from './decode-job.js';
export { DecodePool, workerFile, type DecodePoolOptions } from './decode-pool.js';
export { aliasTableJob, BIRTH_JOB, isReadingMetric, sluiceMetricName, type BirthMetric } from './sparkplug-payload.js';
export { statusJob, writeStatusRecord, type DeviceStatusChange, type StatusJob } from './status-record.js';
