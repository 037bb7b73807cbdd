/**
 * The manifest of one partition's checkpoints in the NATS store: which checkpoints are
 * kept (and where their blobs are), and the epoch of the processor that owns the
 * partition. It is the commit point: a checkpoint exists once a manifest lists it, and
 * a blob no manifest lists is garbage. Stored as JSON under KV key `p<partition>`;
 * the store changes it only by compare-and-set on the KV revision. Pure functions here,
 * no I/O, so the rules can be tested without a server.
 */
import { z } from 'zod';
import { lowestRetainedOffset, retainedIds, type ChainLink } from './checkpoint-chain.js';
import { CheckpointCorruptError, type PartitionCheckpoint } from './checkpoint-file.js';

/** Bump on an incompatible change; a reader refuses other formats. */
export const MANIFEST_FORMAT = 1;

/** One kept checkpoint: its place in a chain, the log offset it restores to, its blob. */
export interface ManifestCheckpoint extends ChainLink {
  /** The next log offset to read after restoring it (trimOffset needs it without reading blobs). */
  offset: number;
  /** The object holding its bytes, as `encodeCheckpoint` wrote them. */
  object: string;
}

/** What KV key `p<partition>` holds. */
export interface CheckpointManifest {
  format: typeof MANIFEST_FORMAT;
  partition: number;
  /** Raised by every claim; a write commits only while it still equals the writer's own (fencing). 0: never claimed. */
  epoch: number;
  /** Who claimed at `epoch` (host/pid), for the fenced processor's message. */
  owner: string;
  /** Newest first. */
  checkpoints: ManifestCheckpoint[];
}

const id = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const manifestSchema = z
  .object({
    format: z.literal(MANIFEST_FORMAT),
    partition: id,
    epoch: id,
    owner: z.string(),
    checkpoints: z.array(
      z.object({ id: id.min(1), kind: z.enum(['full', 'delta']), base: id, offset: id, object: z.string().min(1) }).refine((c) => (c.kind === 'full') === (c.base === 0) && c.base < c.id, {
        error: 'a full checkpoint has base 0, a delta a base below its id',
      }),
    ),
  })
  .strict();

/** The manifest of a partition nobody has claimed yet. */
export function emptyManifest(partition: number): CheckpointManifest {
  return { format: MANIFEST_FORMAT, partition, epoch: 0, owner: '', checkpoints: [] };
}

/** The manifest's stored bytes (JSON). */
export function encodeManifest(manifest: CheckpointManifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(manifest));
}

/** Parses and checks stored bytes; `source` names the key in errors. A bad manifest is a CheckpointCorruptError. */
export function decodeManifest(bytes: Uint8Array, partition: number, source: string): CheckpointManifest {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new CheckpointCorruptError(`${source}: manifest is not JSON: ${(err as Error).message}`);
  }
  const result = manifestSchema.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new CheckpointCorruptError(`${source}: not a checkpoint manifest of format ${MANIFEST_FORMAT}: ${issues}`);
  }
  const manifest = result.data as CheckpointManifest;
  if (manifest.partition !== partition) throw new CheckpointCorruptError(`${source}: manifest of partition ${manifest.partition}, expected ${partition}`);
  return manifest;
}

/** The manifest after `owner` claims the partition: the next epoch, checkpoints unchanged. */
export function withClaim(manifest: CheckpointManifest, owner: string): CheckpointManifest {
  return { ...manifest, epoch: manifest.epoch + 1, owner };
}

/**
 * The manifest once `checkpoint` (stored in `object`) is committed, and what retention
 * drops from it: `keep` newest stay restorable, with every checkpoint they depend on (see
 * retainedIds). A checkpoint of an id already listed replaces it, as a file of the same
 * name would.
 */
export function withCheckpoint(
  manifest: CheckpointManifest,
  checkpoint: Pick<PartitionCheckpoint, 'id' | 'kind' | 'base' | 'offset'>,
  object: string,
  keep: number,
): { manifest: CheckpointManifest; dropped: ManifestCheckpoint[] } {
  const added: ManifestCheckpoint = { id: checkpoint.id, kind: checkpoint.kind, base: checkpoint.base, offset: checkpoint.offset, object };
  const all = [added, ...manifest.checkpoints.filter((c) => c.id !== added.id)].sort((a, b) => b.id - a.id);
  const kept = retainedIds(all, keep);
  const replaced = manifest.checkpoints.filter((c) => c.id === added.id && c.object !== object);
  return {
    manifest: { ...manifest, checkpoints: all.filter((c) => kept.has(c.id)) },
    dropped: [...replaced, ...all.filter((c) => !kept.has(c.id))],
  };
}

/** Whether `manifest` lists exactly this checkpoint in `object` (a commit whose acknowledgement was lost shows up so). */
export function listsCheckpoint(manifest: CheckpointManifest, checkpoint: Pick<PartitionCheckpoint, 'id' | 'offset'>, object: string): boolean {
  return manifest.checkpoints.some((c) => c.id === checkpoint.id && c.offset === checkpoint.offset && c.object === object);
}

/** The log offset below which no kept checkpoint needs records; undefined while fewer than `keep` are kept. */
export function manifestTrimOffset(manifest: CheckpointManifest, keep: number): Promise<number | undefined> {
  return lowestRetainedOffset(manifest.checkpoints, keep, (c) => c.offset);
}
