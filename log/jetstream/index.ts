export { JetStreamLog, natsConnectionOptions, type JetStreamLogOptions } from './jetstream-log.js';
export { jetStreamLogConfigSchema, parseJetStreamLogConfig, type JetStreamLogConfig, type JetStreamLogConfigInput } from './config.js';
export type { PublisherStats } from './frame-publisher.js';
export { RECORDS_PER_FRAME } from './offsets.js';
export { isTransientNatsError } from './transient.js';
export { registerJetStreamLogMetrics, type JetStreamLogCounters } from './log-metrics.js';
export { SeenFrames } from './seen-frames.js';
