/**
 * The cluster's two KV buckets, created when missing and checked when present, as the
 * log's stream and the checkpoint buckets are: a bucket made for another replica count is
 * refused rather than changed (re-replicating under live members is an operator's call).
 */
import { StorageType, type JetStreamClient } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { ConfigError } from '../core/index.js';

export interface ClusterBucketOptions {
  /** The config key that names the bucket, for messages (`cluster.membersBucket`). */
  key: string;
  replicas: number;
  /** Messages older than this are dropped by the server (ms; 0 = never). Only for clean-up: the watch is not told. */
  ttlMs?: number;
  /** Whether any replica may answer a get. Off where a get must see the newest write (lease conflicts). */
  allowDirect: boolean;
}

/** Opens `name` (creating it if missing) with history 1 and file storage; a ConfigError if it exists with other replicas. */
export async function openClusterBucket(js: JetStreamClient, name: string, options: ClusterBucketOptions): Promise<KV> {
  const kvm = new Kvm(js);
  const config = { replicas: options.replicas, history: 1, storage: StorageType.File, ttl: options.ttlMs ?? 0, allow_direct: options.allowDirect };
  let kv: KV;
  try {
    kv = await kvm.create(name, config);
  } catch (err) {
    // An existing bucket of another configuration is refused by the server: say how it differs.
    kv = await kvm.open(name, { bindOnly: true }).catch(() => Promise.reject(err));
  }
  const replicas = (await kv.status()).replicas;
  if (replicas !== options.replicas) {
    throw new ConfigError(
      `nats.replicas: KV bucket ${name} exists with ${replicas} replicas (got ${options.replicas}); set nats.replicas to ${replicas}, or delete it (nats kv rm ${name}) or use another ${options.key}`,
    );
  }
  return kv;
}

/** The bucket's last revision (0 when empty): a watch that has delivered it has delivered the whole current state. */
export async function lastRevision(kv: KV): Promise<number> {
  return (await kv.status()).streamInfo.state.last_seq;
}
