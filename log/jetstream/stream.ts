/**
 * The stream the JetStreamLog writes to, and its meta bucket: created when missing,
 * checked when present. A stream made for another replica count or other subjects is
 * refused rather than changed: editing a live stream under other writers is an operator's
 * decision, not a start-up side effect.
 */
import { JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { nanos } from '@nats-io/transport-node';
import { ConfigError } from '../../core/errors.js';
import type { JetStreamLogConfig } from './config.js';

/** The KV bucket with each stream's partition count and trim points. */
export const META_BUCKET = 'SLUICE_LOG_META';

/** Creates the stream if missing; returns its info. A ConfigError says how an existing one differs and what to do. */
export async function ensureStream(jsm: JetStreamManager, config: JetStreamLogConfig): Promise<StreamInfo> {
  const subjects = [`${config.subjectPrefix}.*`];
  const existing = await streamInfo(jsm, config.stream);
  if (existing) return checkStream(existing, config, subjects);
  try {
    return await jsm.streams.add({
      name: config.stream,
      subjects,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      num_replicas: config.replicas,
      duplicate_window: nanos(config.duplicateWindowMs),
      // Direct get lets any replica answer reads (see reader.ts for the freshness check).
      allow_direct: true,
    });
  } catch (err) {
    // Another process created it first: check theirs like any existing stream.
    const raced = await streamInfo(jsm, config.stream);
    if (raced) return checkStream(raced, config, subjects);
    throw err;
  }
}

/** The meta bucket (created if missing, with the stream's replicas); checks the partition count recorded for the stream. */
export async function openMeta(jsm: JetStreamManager, config: JetStreamLogConfig, partitions: number): Promise<KV> {
  const kv = await new Kvm(jsm.jetstream()).create(META_BUCKET, { replicas: config.replicas, history: 1, storage: StorageType.File });
  const key = `${config.stream}.partitions`;
  try {
    await kv.create(key, String(partitions));
  } catch (err) {
    const recorded = Number((await kv.get(key))?.string());
    if (recorded === partitions) return kv;
    if (!Number.isInteger(recorded)) throw err;
    throw new ConfigError(
      `partitions: stream ${config.stream} was created with ${recorded} partitions (got ${partitions}); the count is fixed, so set partitions to ${recorded} or use another nats.stream`,
    );
  }
  return kv;
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | null> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return null;
    throw err;
  }
}

function checkStream(info: StreamInfo, config: JetStreamLogConfig, subjects: string[]): StreamInfo {
  const { num_replicas: replicas, subjects: actual = [], storage } = info.config;
  const fix = `delete it (nats stream rm ${config.stream}) or use another nats.stream`;
  if (replicas !== config.replicas) {
    throw new ConfigError(`nats.replicas: stream ${config.stream} exists with ${replicas} replicas (got ${config.replicas}); set replicas to ${replicas}, or ${fix}`);
  }
  if (actual.length !== 1 || actual[0] !== subjects[0]) {
    throw new ConfigError(
      `nats.subjectPrefix: stream ${config.stream} exists with subjects ${JSON.stringify(actual)} (expected ${JSON.stringify(subjects)}); ${fix}`,
    );
  }
  if (storage !== StorageType.File) throw new ConfigError(`nats.stream: stream ${config.stream} exists with ${storage} storage, not file; ${fix}`);
  return info;
}
