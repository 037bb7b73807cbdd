/**
 * NatsCheckpointStore: checkpoints in NATS JetStream, for distributed mode. Map of the
 * files: checkpoint-manifest.ts (the per-partition manifest in KV, the commit point, and
 * its pure transitions), checkpoint-object-names.ts (blob names, with the writer's epoch),
 * checkpoint-chain.ts (retention and restore rules, shared with LocalCheckpointStore),
 * nats-checkpoint-buckets.ts (bucket set-up), nats-retry.ts (riding out leader
 * elections), nats-checkpoint-config.ts. A blob's bytes are exactly a local checkpoint
 * file's (checkpoint-file.ts).
 *
 * Write: blob first, then compare-and-set of the manifest on its KV revision, only while
 * the manifest's epoch is still this store's own. Claim: CAS the epoch one up, which
 * fences every earlier owner; a write or trimOffset of a fenced owner rejects with
 * CheckpointFencedError and changes nothing.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { JetStreamApiCodes, JetStreamApiError, jetstream } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { CheckpointFencedError, CheckpointNotClaimedError } from '../errors.js';
import { newestRestorableChain } from './checkpoint-chain.js';
import { CheckpointCorruptError, decodeCheckpoint, encodeCheckpoint, type PartitionCheckpoint } from './checkpoint-file.js';
import {
  decodeManifest,
  emptyManifest,
  encodeManifest,
  listsCheckpoint,
  manifestTrimOffset,
  withCheckpoint,
  withClaim,
  type CheckpointManifest,
  type ManifestCheckpoint,
} from './checkpoint-manifest.js';
import { checkpointObjectName, parseCheckpointObjectName } from './checkpoint-object-names.js';
import { writeEachAlone, type CheckpointProblem, type CheckpointStore, type CheckpointWrite } from './checkpoint-store.js';
import { openCheckpointBucket, openManifestBucket } from './nats-checkpoint-buckets.js';
import { parseNatsCheckpointConfig, type NatsCheckpointConfig, type NatsCheckpointConfigInput } from './nats-checkpoint-config.js';
import { retryTransient } from './nats-retry.js';

export interface NatsCheckpointStoreOptions {
  /** An open connection, typically the one the JetStreamLog uses; the store never closes it. */
  connection: NatsConnection;
  /** `checkpoint.nats.*`; defaults as documented in nats-checkpoint-config.ts. */
  config?: NatsCheckpointConfigInput;
  /** `checkpoint.keep`: the newest checkpoints per partition that stay restorable. Default 3. */
  keep?: number;
  /** Partitions to claim at open (see claim()). */
  partitions?: readonly number[];
  /** Names this processor in the manifests it claims, for a fenced owner's message. Default host:pid:random. */
  owner?: string;
  /** How long a request is retried through a leader election before CheckpointStoreUnavailableError. Default 30 s. */
  retryTimeoutMs?: number;
}

/** A manifest as read, with the KV revision a CAS must name (0: no manifest yet). */
interface ReadManifest {
  manifest: CheckpointManifest;
  revision: number;
}

export class NatsCheckpointStore implements CheckpointStore {
  readonly problems: CheckpointProblem[] = [];
  /** The epoch this store claimed, by partition. */
  private readonly epochs = new Map<number, number>();
  /** The tail of each partition's writes: one commit at a time per partition, in call order. */
  private readonly writes = new Map<number, Promise<unknown>>();

  private constructor(
    readonly config: NatsCheckpointConfig,
    readonly keep: number,
    readonly owner: string,
    private readonly retryTimeoutMs: number,
    private readonly manifests: KV,
    private readonly objects: ObjectStore,
  ) {}

  /** Opens (creating if missing) both buckets on `connection`, then claims `partitions`; a ConfigError for a bad config or a mismatched bucket. */
  static async open(options: NatsCheckpointStoreOptions): Promise<NatsCheckpointStore> {
    const config = parseNatsCheckpointConfig(options.config);
    const keep = options.keep ?? 3;
    if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`keep must be a positive integer (got ${keep})`);
    const retryTimeoutMs = options.retryTimeoutMs ?? 30_000;
    const js = jetstream(options.connection);
    const [manifests, objects] = await retryTransient('opening the checkpoint buckets', retryTimeoutMs, () => Promise.all([openManifestBucket(js, config), openCheckpointBucket(js, config)]));
    const owner = options.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    const store = new NatsCheckpointStore(config, keep, owner, retryTimeoutMs, manifests, objects);
    for (const partition of options.partitions ?? []) await store.claim(partition);
    return store;
  }

  /**
   * Takes `partition` over: raises its manifest's epoch by CAS and remembers it, which
   * fences every earlier owner. Then deletes the blobs of earlier epochs the manifest does
   * not list (checkpoints whose commit failed or whose deletion was lost). Resolves with
   * the new epoch. Claim before restoring: a restore must see what the last owner committed.
   */
  async claim(partition: number): Promise<number> {
    checkPartition(partition);
    const claimed = await retryTransient(`claiming partition ${partition}`, this.retryTimeoutMs, async () => {
      for (;;) {
        const { manifest, revision } = await this.readManifest(partition);
        const next = withClaim(manifest, this.owner);
        // A retried claim whose first CAS did land just claims once more: epochs only need to rise.
        if (await this.compareAndSet(partition, next, revision)) return next;
      }
    });
    this.epochs.set(partition, claimed.epoch);
    await this.sweep(partition, claimed).catch(() => undefined); // garbage only costs space; the next claim sweeps again
    return claimed.epoch;
  }

  /** Forgets the claim on `partition` (it was revoked); the manifest stays as the next owner will find it. */
  release(partition: number): void {
    this.epochs.delete(partition);
  }

  /** The epoch this store holds for `partition`, undefined if it has not claimed it. */
  epochOf(partition: number): number | undefined {
    return this.epochs.get(partition);
  }

  /**
   * Uploads the checkpoint's blob, then commits it by CAS of the manifest, then deletes
   * the blobs retention dropped. Rejects with CheckpointFencedError (nothing committed,
   * the blob deleted) once another store has claimed the partition, and with
   * CheckpointNotClaimedError if this one never did.
   */
  write(checkpoint: PartitionCheckpoint): Promise<void> {
    const partition = checkpoint.partition;
    const previous = this.writes.get(partition) ?? Promise.resolve();
    const done = previous.catch(() => undefined).then(() => this.commit(checkpoint));
    this.writes.set(partition, done);
    void done.finally(() => {
      if (this.writes.get(partition) === done) this.writes.delete(partition);
    }).catch(() => undefined);
    return done;
  }

  /** Each partition's checkpoint is its own blob and manifest update, written as it is added. */
  begin(): CheckpointWrite {
    return writeEachAlone(this);
  }

  async restorable(partition: number): Promise<PartitionCheckpoint[]> {
    checkPartition(partition);
    const { manifest } = await retryTransient(`reading the manifest of partition ${partition}`, this.retryTimeoutMs, () => this.readManifest(partition));
    return newestRestorableChain(
      manifest.checkpoints,
      (c) => this.load(partition, c),
      (c, base) => {
        const source = this.source(c.object);
        this.problems.push({ file: source, error: new CheckpointCorruptError(`${source}: the checkpoint it applies to (${base}) is not in the manifest`) });
      },
    );
  }

  /** As CheckpointStore.trimOffset, from the manifest alone; rejects with CheckpointFencedError when fenced, so a stale owner cannot trim the log. */
  async trimOffset(partition: number): Promise<number | undefined> {
    const epoch = this.claimedEpoch(partition);
    const { manifest } = await retryTransient(`reading the manifest of partition ${partition}`, this.retryTimeoutMs, () => this.readManifest(partition));
    if (manifest.epoch !== epoch) throw new CheckpointFencedError(partition, epoch, manifest.epoch, manifest.owner);
    return manifestTrimOffset(manifest, this.keep);
  }

  private async commit(checkpoint: PartitionCheckpoint): Promise<void> {
    const partition = checkpoint.partition;
    const epoch = this.claimedEpoch(partition);
    const bytes = await encodeCheckpoint(checkpoint);
    const object = checkpointObjectName(partition, epoch, checkpoint);
    let uploaded = false;
    let dropped: ManifestCheckpoint[] = [];
    try {
      await retryTransient(`committing checkpoint ${checkpoint.id} of partition ${partition}`, this.retryTimeoutMs, async () => {
        for (;;) {
          const { manifest, revision } = await this.readManifest(partition);
          if (manifest.epoch !== epoch) throw new CheckpointFencedError(partition, epoch, manifest.epoch, manifest.owner);
          // A CAS that timed out may still have landed: then the retry finds it listed.
          if (uploaded && listsCheckpoint(manifest, checkpoint, object)) return;
          if (!uploaded) {
            await this.objects.putBlob({ name: object }, bytes);
            uploaded = true;
          }
          const next = withCheckpoint(manifest, checkpoint, object, this.keep);
          if (await this.compareAndSet(partition, next.manifest, revision)) {
            dropped = next.dropped;
            return;
          }
          // The revision moved: read again; a new epoch means we are fenced.
        }
      });
    } catch (err) {
      // Fenced: the manifest moved past the revision our CAS named, so it can never land and
      // the blob is garbage. After other failures the CAS may still land: the next claim sweeps.
      if (uploaded && err instanceof CheckpointFencedError) await this.objects.delete(object).catch(() => undefined);
      throw err;
    }
    await Promise.all(dropped.map((c) => this.objects.delete(c.object).catch(() => undefined)));
  }

  /** Reads and checks one checkpoint's blob; a missing or corrupt one is recorded in `problems` and gives undefined. */
  private async load(partition: number, entry: ManifestCheckpoint): Promise<PartitionCheckpoint | undefined> {
    const source = this.source(entry.object);
    try {
      const blob = await retryTransient(`reading ${source}`, this.retryTimeoutMs, () =>
        this.objects.getBlob(entry.object).catch((err: unknown) => {
          // The object store checks its own SHA-256 digest: a mismatch is damage like a CRC mismatch.
          if (err instanceof Error && /digests do not match/.test(err.message)) throw new CheckpointCorruptError(`${source}: ${err.message.split('\n')[0]}`);
          throw err;
        }),
      );
      if (blob === null) throw new CheckpointCorruptError(`${source}: listed in the manifest but missing from bucket ${this.config.bucket}`);
      const checkpoint = await decodeCheckpoint(Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength), source);
      if (checkpoint.partition !== partition) throw new CheckpointCorruptError(`${source}: belongs to partition ${checkpoint.partition}`);
      if (checkpoint.id !== entry.id || checkpoint.kind !== entry.kind || checkpoint.base !== entry.base) {
        throw new CheckpointCorruptError(`${source}: holds ${checkpoint.kind} checkpoint ${checkpoint.id} (base ${checkpoint.base}), not what the manifest says`);
      }
      return checkpoint;
    } catch (err) {
      if (!(err instanceof CheckpointCorruptError)) throw err;
      this.problems.push({ file: source, error: err });
      return undefined;
    }
  }

  /** Deletes `partition`'s blobs of epochs before `claimed` that its manifest does not list: no earlier owner can commit them any more. */
  private async sweep(partition: number, claimed: CheckpointManifest): Promise<void> {
    const listed = new Set(claimed.checkpoints.map((c) => c.object));
    const garbage = (await this.objects.list()).filter((info) => {
      const name = parseCheckpointObjectName(info.name);
      return name !== undefined && name.partition === partition && name.epoch < claimed.epoch && !listed.has(info.name);
    });
    await Promise.all(garbage.map((info) => this.objects.delete(info.name).catch(() => undefined)));
  }

  private async readManifest(partition: number): Promise<ReadManifest> {
    const entry = await this.manifests.get(manifestKey(partition));
    if (entry === null || entry.operation !== 'PUT') return { manifest: emptyManifest(partition), revision: entry?.revision ?? 0 };
    return { manifest: decodeManifest(entry.value, partition, `${this.config.manifestBucket}/${manifestKey(partition)}`), revision: entry.revision };
  }

  /** Stores `manifest` if the key is still at `revision`; false when someone changed it since. */
  private async compareAndSet(partition: number, manifest: CheckpointManifest, revision: number): Promise<boolean> {
    const key = manifestKey(partition);
    try {
      if (revision === 0) await this.manifests.create(key, encodeManifest(manifest));
      else await this.manifests.update(key, encodeManifest(manifest), revision);
      return true;
    } catch (err) {
      if (err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)) return false;
      throw err;
    }
  }

  private claimedEpoch(partition: number): number {
    const epoch = this.epochs.get(partition);
    if (epoch === undefined) throw new CheckpointNotClaimedError(partition);
    return epoch;
  }

  /** How problems name a blob: bucket and object. */
  private source(object: string): string {
    return `${this.config.bucket}/${object}`;
  }
}

/** The KV key of a partition's manifest. */
export function manifestKey(partition: number): string {
  return `p${partition}`;
}

function checkPartition(partition: number): void {
  if (!Number.isInteger(partition) || partition < 0) throw new RangeError(`partition must be a non-negative integer (got ${partition})`);
}
