export * from './errors.js';
export { createLogger, type Logger } from './logger.js';
export { parseDuration, duration } from './duration.js';
export { compiledWorkerFile } from './worker-file.js';
export { Backoff } from './backoff.js';
export { FsyncFailedError, StorageUnavailableError, storageErrno } from './storage.js';
export { StorageHealth, type StorageEpisode, type StorageHealthOptions } from './storage-health.js';
export { lockDataDir, type DataDirLock } from './data-dir-lock.js';
