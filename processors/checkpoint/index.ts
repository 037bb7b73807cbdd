export { LocalCheckpointStore, type CheckpointStore, type CheckpointProblem } from './checkpoint-store.js';
export { CheckpointCorruptError, type PartitionCheckpoint } from './checkpoint-file.js';
