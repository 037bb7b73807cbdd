export { LocalCheckpointStore, type CheckpointStore, type CheckpointProblem } from './checkpoint-store.js';
export { CheckpointCorruptError, CheckpointVersionError, type PartitionCheckpoint } from './checkpoint-file.js';
export { CheckpointCoordinator, type CheckpointCoordinatorDeps, type CheckpointOutcome, type CheckpointParticipant } from './checkpoint-coordinator.js';
