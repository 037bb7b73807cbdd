export * from './errors.js';
export { createLogger, type Logger } from './logger.js';
