import { z } from 'zod';
import { clusterConfigSchema } from '../cluster/index.js';
import { gatewayConfigShape } from '../gateway/index.js';
import { jetStreamLogConfigSchema, logConfigSchema } from '../log/index.js';
import { processorConfigShape } from '../processors/index.js';
import { DEFAULT_PARTITIONS } from '../routing/index.js';
import { statsConfigSchema } from './stats/stats-reporter.js';

/** The whole sluice config: each component's own schema, composed; unknown keys are errors. */
export const sluiceConfigSchema = z
  .object({
    /** Where the log, checkpoints and dead letters live. */
    dataDir: z.string().default('./data'),
    /** Key groups = log partitions; fixed once data exists (like Kafka's partition count). */
    partitions: z.number().int().min(1).max(4096).default(DEFAULT_PARTITIONS),
    log: logConfigSchema.prefault({}),
    /** The NATS cluster the `jetstream` log (and distributed mode's checkpoints) live on. */
    nats: jetStreamLogConfigSchema.optional(),
    /** Distributed mode: how processors without processors.partitions share the partitions (membership, leases). */
    cluster: clusterConfigSchema.optional(),
    ...gatewayConfigShape,
    ...processorConfigShape,
    stats: statsConfigSchema.prefault({}),
  })
  .strict()
  .refine((c) => c.log.kind !== 'jetstream' || c.nats !== undefined, {
    error: 'log.kind is jetstream but there is no nats section: add nats.servers (e.g. ["nats://127.0.0.1:4222"])',
    path: ['nats'],
  });

export type SluiceConfig = z.infer<typeof sluiceConfigSchema>;
