export type { Log, LogRecord, FsyncPolicy } from './log.js';
export { FileLog, type FileLogOptions, type FileLogStats } from './file-log.js';
export type { RecoveryNote } from './partition.js';
export { logConfigSchema, parseLogConfig, type LogConfig, type LogConfigInput } from './config.js';
