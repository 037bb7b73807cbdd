export { StateCorruptError, StateMismatchError, ProcessorStoppedError } from './errors.js';
export { SeqDeduplicator, DEFAULT_MAX_SEQ_GAPS, MAX_SEQ_GAPS, type DedupStats } from './dedup.js';
export { PartitionWatermark } from './time/watermark.js';
export {
  windowSpecSchema,
  windowsConfigSchema,
  timeConfigSchema,
  DEFAULT_WINDOWS,
  type WindowSpec,
  type TimeConfig,
} from './windowing/window-spec.js';
export { TumblingWindows, SlidingWindows, SessionWindows, windowStart, type TimeWindow } from './windowing/assigners.js';
export { WindowAccumulator, type AggregateResult } from './windowing/accumulator.js';
export { RELATIVE_ACCURACY } from './windowing/quantile-sketch.js';
export {
  WindowOperator,
  type FiredWindow,
  type LateReading,
  type WindowOperatorStats,
} from './windowing/window-operator.js';
export { ProcessorNode, type ProcessorNodeDeps } from './processor-node.js';
export { ProcessorPool, aggregateMetrics, type ProcessorPoolDeps, type MetricsJson } from './runtime/processor-pool.js';
export {
  NatsCheckpointStore,
  natsCheckpointConfigSchema,
  parseNatsCheckpointConfig,
  readCommittedOffsets,
  type NatsCheckpointStoreOptions,
  type NatsCheckpointConfig,
} from './checkpoint/index.js';
export { CheckpointFencedError, CheckpointNotClaimedError, CheckpointStoreUnavailableError } from './errors.js';
export { InfluxWriter, toLineProtocol, influxConfigSchema, type InfluxConfig, type SinkPoint } from './sink/index.js';
export { processorConfigShape, processorConfigSchema, checkpointConfigSchema, type ProcessorConfig } from './config.js';
export {
  LocalCheckpointStore,
  CheckpointCoordinator,
  CheckpointCorruptError,
  CheckpointVersionError,
  type CheckpointStore,
  type CheckpointOutcome,
  type CheckpointParticipant,
  type PartitionCheckpoint,
} from './checkpoint/index.js';
