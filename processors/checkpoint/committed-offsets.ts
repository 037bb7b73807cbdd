/**
 * What `sluice cluster status` needs of the NATS checkpoint store without opening it (which
 * would create buckets): per partition, the log offset its newest committed checkpoint
 * restores to. Read only; the manifest is the commit point (checkpoint-manifest.ts).
 */
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { decodeManifest } from './checkpoint-manifest.js';
import type { NatsCheckpointConfig } from './nats-checkpoint-config.js';
import { manifestKey } from './nats-checkpoint-store.js';

/**
 * The next offset to read after restoring each partition's newest committed checkpoint,
 * index = partition; undefined where none is committed (or the bucket does not exist yet).
 * A manifest that does not decode is a CheckpointCorruptError, as it is to a processor.
 */
export async function readCommittedOffsets(connection: NatsConnection, config: Pick<NatsCheckpointConfig, 'manifestBucket'>, partitions: number): Promise<(number | undefined)[]> {
  const js = jetstream(connection);
  const jsm = await js.jetstreamManager();
  const exists = await jsm.streams.info(`KV_${config.manifestBucket}`).then(
    () => true,
    (err: unknown) => (/stream not found/i.test((err as Error).message) ? false : Promise.reject(err)),
  );
  const offsets = new Array<number | undefined>(partitions).fill(undefined);
  if (!exists) return offsets;
  const kv = await new Kvm(js).open(config.manifestBucket);
  await Promise.all(
    offsets.map(async (_, partition) => {
      const entry = await kv.get(manifestKey(partition));
      if (entry === null || entry.operation !== 'PUT') return;
      const manifest = decodeManifest(entry.value, partition, `${config.manifestBucket}/${manifestKey(partition)}`);
      offsets[partition] = manifest.checkpoints[0]?.offset;
    }),
  );
  return offsets;
}
