/**
 * The two buckets of the NATS checkpoint store: created when missing, checked when
 * present. A bucket made for another replica count is refused rather than changed, as
 * the log's stream is (log/jetstream/stream.ts): re-replicating live data under other
 * processors is an operator's decision, not a start-up side effect.
 */
import { StorageType, type JetStreamClient } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { ConfigError } from '../../core/errors.js';
import type { NatsCheckpointConfig } from './nats-checkpoint-config.js';

/** The manifest KV bucket (created if missing); a ConfigError if it exists with other replicas. */
export async function openManifestBucket(js: JetStreamClient, config: NatsCheckpointConfig): Promise<KV> {
  const kvm = new Kvm(js);
  // No direct gets: any replica may answer one, possibly behind the leader, and the fencing
  // check must see the newest claim. Manifests change once per checkpoint interval.
  const options = { replicas: config.replicas, history: 1, storage: StorageType.File, allow_direct: false };
  let kv: KV;
  try {
    kv = await kvm.create(config.manifestBucket, options);
  } catch (err) {
    // An existing bucket of another configuration is refused by the server: say how it differs.
    kv = await kvm.open(config.manifestBucket, { bindOnly: true }).catch(() => Promise.reject(err));
  }
  const replicas = (await kv.status()).replicas;
  if (replicas !== config.replicas) throw replicaMismatch('manifestBucket', `KV bucket ${config.manifestBucket}`, replicas, config.replicas, `nats kv rm ${config.manifestBucket}`);
  return kv;
}

/** The checkpoint Object Store bucket (created if missing); a ConfigError if it exists with other replicas. */
export async function openCheckpointBucket(js: JetStreamClient, config: NatsCheckpointConfig): Promise<ObjectStore> {
  const objects = await new Objm(js).create(config.bucket, { replicas: config.replicas, storage: StorageType.File });
  const status = await objects.status();
  if (status.replicas !== config.replicas) throw replicaMismatch('bucket', `object store ${config.bucket}`, status.replicas, config.replicas, `nats object rm ${config.bucket}`);
  if (status.storage !== StorageType.File) throw new ConfigError(`checkpoint.nats.bucket: object store ${config.bucket} exists with ${status.storage} storage, not file; delete it (nats object rm ${config.bucket}) or use another bucket`);
  return objects;
}

function replicaMismatch(key: string, what: string, actual: number, wanted: number, remove: string): ConfigError {
  return new ConfigError(
    `checkpoint.nats.replicas: ${what} exists with ${actual} replicas (got ${wanted}); set checkpoint.nats.replicas to ${actual}, or delete it (${remove}) or use another checkpoint.nats.${key}`,
  );
}
