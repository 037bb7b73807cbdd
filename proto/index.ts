export { ReadingBatch, Reading, Series, type IReadingBatch, type IReading, type ISeries } from './telemetry.js';
export { readingIntValues } from './reading-int-values.js';
export { readSeriesOnlyBatch, type SeriesColumns } from './series-batch.js';
export { readRowOnlyBatch } from './row-batch.js';
export {
  encodeColumnarBatch,
  decodeColumnarBatch,
  msgFlagsOffset,
  MSG_FLAG_DROPPED,
  MSG_FLAG_STATUS,
  MSG_FLAG_RECEIVE_TIME,
  MSG_FLAGS_NOT_READINGS,
  TEXT_KIND_BOOL,
  TEXT_KIND_STRING,
  type ColumnarBatch,
  type ExpansionScratch,
} from './columnar-batch.js';
export { ColumnarBatchBuilder } from './columnar-batch-builder.js';
export { BatchCompressor, compressBatch, uncompressBatch, decodeLogRecord, LogRecordDecoder } from './compressed-batch.js';
export { ASYNC_FROM_BYTES, compressBlock, compressBlocks, uncompressBlock, uncompressBlocks, uncompressedLength } from './snappy-block.js';
export { encodeTagSet, parseTagSet, tagProblem } from './tag-set.js';
export {
  decodeSparkplugPayload,
  peekSparkplugSeq,
  SparkplugDataType,
  SparkplugMetric,
  SparkplugPayload,
  type DecodedSparkplugMetric,
  type DecodedSparkplugPayload,
  type SparkplugMetricProps,
  type SparkplugPayloadProps,
} from './sparkplug.js';
