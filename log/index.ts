export type { Log, LogFrame, LogRecord, FsyncPolicy } from './log.js';
export { FileLog, type FileLogOptions, type FileLogStats } from './file-log.js';
export type { RecoveryNote } from './commit-log.js';
export { logConfigSchema, parseLogConfig, type LogConfig, type LogConfigInput } from './config.js';
export { JetStreamLog, isTransientNatsError, natsConnectionOptions, jetStreamLogConfigSchema, parseJetStreamLogConfig, RECORDS_PER_FRAME, registerJetStreamLogMetrics, SeenFrames } from './jetstream/index.js';
export type { JetStreamLogOptions, JetStreamLogConfig, JetStreamLogConfigInput, PublisherStats } from './jetstream/index.js';
