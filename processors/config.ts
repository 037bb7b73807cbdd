import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { duration } from '../core/index.js';
import { PARTITION_SET_PATTERN } from '../routing/index.js';
import { rulesConfigSchema } from './rules/index.js';
import { influxConfigSchema, outputsConfigSchema } from './sink/index.js';
import { timeConfigSchema, windowsConfigSchema } from './windowing/window-spec.js';

/** `checkpoint.*`: how often partition state is made durable. */
export const checkpointConfigSchema = z
  .object({
    /** Every interval: flush the sink, then write each partition's state and offset. */
    interval: duration('10s'),
    /**
     * The newest checkpoints per partition that stay restorable (default 3): they are kept
     * with every checkpoint they depend on; the rest are deleted, and the log is trimmed
     * below the oldest kept.
     */
    keep: z.number().int().min(1).max(100).default(3),
    /** Every this many checkpoints of a partition one is full; the others are deltas against the one before (default 10; 1 = always full). */
    fullEvery: z.number().int().min(1).max(1000).default(10),
  })
  .strict();

/** `processors.*`: how the processors run in this process. */
export const processorsRuntimeSchema = z
  .object({
    /** Processor worker threads; owned partitions are shared out among them. */
    threads: z.number().int().min(1).max(256).default(availableParallelism()),
    /**
     * The partitions this process processes, e.g. "0-31" or "0-7,16" (`sluice processor
     * --partitions`); default all. With `log.kind: jetstream`, each partition must be given
     * to exactly one running processor.
     */
    partitions: z.string().regex(PARTITION_SET_PATTERN, { error: 'expected ranges like "0-31" or "0-7,16,40-47"' }).optional(),
  })
  .strict();

/** Everything the processors read from the config file. */
export const processorConfigShape = {
  processors: processorsRuntimeSchema.prefault({}),
  time: timeConfigSchema.prefault({}),
  windows: windowsConfigSchema,
  checkpoint: checkpointConfigSchema.prefault({}),
  influx: influxConfigSchema.prefault({}),
  outputs: outputsConfigSchema.prefault({}),
  /** The alert rules (issue 16): evaluated by every partition task, reloaded when the file changes or on SIGHUP. */
  rules: rulesConfigSchema.prefault({}),
};

/** The processors' whole config, validated. */
export const processorConfigSchema = z.object(processorConfigShape).strict();
export type ProcessorConfig = z.infer<typeof processorConfigSchema>;
