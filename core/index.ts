export * from './errors.js';
export { configureLogging, createLogger, parseLogLevel, LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel, type Logger } from './logger.js';
export { ExitCode } from './exit-codes.js';
export { sluiceVersion } from './version.js';
export { parseDuration, duration } from './duration.js';
export { compiledWorkerFile } from './worker-file.js';
export { Backoff } from './backoff.js';
export { FsyncFailedError, StorageUnavailableError, storageErrno } from './storage.js';
export { StorageHealth, type StorageEpisode, type StorageHealthOptions } from './storage-health.js';
