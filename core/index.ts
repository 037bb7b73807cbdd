export * from './errors.js';
export { createLogger, type Logger } from './logger.js';
export { parseDuration, duration } from './duration.js';
export { compiledWorkerFile } from './worker-file.js';
