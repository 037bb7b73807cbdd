export { NatsCheckpointStore, manifestKey, type NatsCheckpointStoreOptions } from './nats-checkpoint-store.js';
export { natsCheckpointConfigSchema, parseNatsCheckpointConfig, type NatsCheckpointConfig, type NatsCheckpointConfigInput } from './nats-checkpoint-config.js';
export { MANIFEST_FORMAT, decodeManifest, encodeManifest, type CheckpointManifest, type ManifestCheckpoint } from './checkpoint-manifest.js';
export { LocalCheckpointStore, writeEachAlone, type CheckpointStore, type CheckpointProblem, type CheckpointWrite } from './checkpoint-store.js';
export { CheckpointCorruptError, CheckpointVersionError, type PartitionCheckpoint } from './checkpoint-file.js';
export { CheckpointCoordinator, type CheckpointBarrier, type CheckpointCoordinatorDeps, type CheckpointOutcome, type CheckpointParticipant } from './checkpoint-coordinator.js';
export { readCommittedOffsets } from './committed-offsets.js';
