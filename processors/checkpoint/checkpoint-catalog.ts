/**
 * What a checkpoints directory holds, read once when a LocalCheckpointStore is first used:
 * the bundles' indexes (checkpoint-bundle.ts) and, from versions before bundles, one file
 * per checkpoint under `<partition>/` (`<id>.full.ckpt`, `<id>.delta-<base>.ckpt`). Both
 * are restored from and retired by the same rules; new checkpoints go to bundles only.
 */
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BUNDLE_TRAILER_BYTES, decodeBundleIndex, decodeBundleTrailer } from './checkpoint-bundle.js';
import type { ChainLink } from './checkpoint-chain.js';
import { CHECKPOINT_HEADER_BYTES, CheckpointCorruptError, decodeCheckpointHeader } from './checkpoint-file.js';
import type { CheckpointProblem } from './checkpoint-store.js';

/** One partition's stored checkpoint: a section of a bundle, or a whole file of the per-partition layout. */
export interface StoredCheckpoint extends ChainLink {
  partition: number;
  /** Its log offset; undefined for a per-partition file whose header cannot be read. */
  offset: number | undefined;
  file: string;
  /** Where the section lies in its bundle; undefined for a per-partition file (all of it). */
  section?: { position: number; length: number };
}

/** Everything found, by partition (newest first), and each bundle's partitions whose sections retention still keeps. */
export interface CheckpointCatalog {
  byPartition: Map<number, StoredCheckpoint[]>;
  /** A bundle is deleted once none of its sections is kept. */
  bundles: Map<string, Set<number>>;
  /** A file of checkpoint format 1 (`<id>.ckpt`) found in a partition's folder: restoring that partition is refused. */
  format1: Map<number, string>;
  /**
   * Bundles whose index is damaged, by the partition their name gives (their first):
   * reported by the store that restores that partition, so that of the threads sharing the
   * directory, one reports each.
   */
  damaged: Map<number, CheckpointProblem[]>;
}

export const BUNDLE_NAME = /^\d{16}\.(\d+)\.bundle$/;
const PARTITION_FOLDER = /^\d{3,}$/;
const FILE_NAME = /^(\d{16})\.(?:full|delta-(\d{16}))\.ckpt$/;
const FORMAT_1_NAME = /^\d{16}\.ckpt$/;

/** How a problem names a stored checkpoint: its file, and for a bundle the partition too. */
export function locationOf(c: Pick<StoredCheckpoint, 'file' | 'partition' | 'section'>): string {
  return c.section === undefined ? c.file : `${c.file} (partition ${c.partition})`;
}

/** Reads `dir`'s bundles' indexes and per-partition folders; a bundle whose index is damaged is skipped (see `damaged`). */
export async function scanCheckpoints(dir: string): Promise<CheckpointCatalog> {
  const catalog: CheckpointCatalog = { byPartition: new Map(), bundles: new Map(), format1: new Map(), damaged: new Map() };
  const add = (c: StoredCheckpoint): void => {
    const list = catalog.byPartition.get(c.partition);
    if (list === undefined) catalog.byPartition.set(c.partition, [c]);
    else if (!list.some((known) => known.id === c.id)) list.push(c);
  };
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const path = join(dir, name);
    const bundle = BUNDLE_NAME.exec(name);
    if (bundle) {
      try {
        const sections = await readBundleIndex(path);
        catalog.bundles.set(path, new Set(sections.map((s) => s.partition)));
        for (const s of sections) add({ ...s, file: path, section: { position: s.position, length: s.length } });
      } catch (err) {
        if (!(err instanceof CheckpointCorruptError)) throw err;
        const first = Number(bundle[1]);
        catalog.damaged.set(first, [...(catalog.damaged.get(first) ?? []), { file: path, error: err }]);
      }
    } else if (PARTITION_FOLDER.test(name)) {
      const partition = Number(name);
      for (const file of await readdir(path).catch(() => [] as string[])) {
        const m = FILE_NAME.exec(file);
        if (m) {
          const full = m[2] === undefined;
          add({ partition, id: Number(m[1]), kind: full ? 'full' : 'delta', base: full ? 0 : Number(m[2]), offset: await readOffset(join(path, file), partition), file: join(path, file) });
        } else if (FORMAT_1_NAME.test(file)) {
          catalog.format1.set(partition, join(path, file));
        }
      }
    }
  }
  for (const list of catalog.byPartition.values()) list.sort((a, b) => b.id - a.id);
  return catalog;
}

/** A bundle's sections, from its index; CheckpointCorruptError when the trailer or index fails its checks. */
export async function readBundleIndex(path: string): Promise<ReturnType<typeof decodeBundleIndex>> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const trailer = Buffer.alloc(Math.min(size, BUNDLE_TRAILER_BYTES));
    await file.read(trailer, 0, trailer.length, size - trailer.length);
    const { indexPosition } = decodeBundleTrailer(trailer, size, path);
    const tail = Buffer.alloc(size - indexPosition);
    await file.read(tail, 0, tail.length, indexPosition);
    return decodeBundleIndex(tail, size, path);
  } finally {
    await file.close();
  }
}

/** A per-partition file's log offset from its header; undefined if it cannot be read (then it cannot be restored either). */
async function readOffset(path: string, partition: number): Promise<number | undefined> {
  try {
    const file = await open(path, 'r');
    try {
      const { buffer, bytesRead } = await file.read(Buffer.alloc(CHECKPOINT_HEADER_BYTES), 0, CHECKPOINT_HEADER_BYTES, 0);
      const header = decodeCheckpointHeader(buffer.subarray(0, bytesRead), path);
      return header.partition === partition ? header.offset : undefined;
    } finally {
      await file.close();
    }
  } catch {
    return undefined;
  }
}
