import { rmSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { makeDirectory } from '../../core/index.js';
import type { BundleSection } from './checkpoint-bundle.js';
import { BundleWrite } from './bundle-write.js';
import { locationOf, scanCheckpoints, type CheckpointCatalog, type StoredCheckpoint } from './checkpoint-catalog.js';
import { lowestRetainedOffset, newestRestorableChain, retainedIds } from './checkpoint-chain.js';
import { CheckpointCorruptError, CheckpointVersionError, decodeCheckpoint, type PartitionCheckpoint } from './checkpoint-file.js';

/** Where checkpoints live; the local directory now, JetStream's object store in distributed mode. */
export interface CheckpointStore {
  /**
   * Writes a checkpoint atomically (once it resolves, a crash leaves either it or the
   * previous one), then deletes what retention no longer needs: the newest `keep`
   * checkpoints stay restorable, so they and every checkpoint they depend on are kept.
   */
  write(checkpoint: PartitionCheckpoint): Promise<void>;
  /**
   * Starts writing checkpoint `id` of several partitions (one coordinator's tasks): add
   * each partition's, then commit. A store may keep them in one object; what write()
   * promises holds for each partition once commit() resolves.
   */
  begin(id: number): CheckpointWrite;
  /**
   * The newest checkpoint of a partition that can be restored, with the ones it depends
   * on: a full checkpoint, then its deltas in order ([] when there is none). A corrupt
   * file ends the chains through it: a corrupt delta falls back to the checkpoint before
   * it, a corrupt full one to the previous full one's chain.
   */
  restorable(partition: number): Promise<PartitionCheckpoint[]>;
  /**
   * The log offset below which no kept checkpoint needs records: the lowest offset a
   * fallback could restore to. Undefined while fewer than `keep` checkpoints exist (a
   * fallback past all of them starts from the log's first record).
   */
  trimOffset(partition: number): Promise<number | undefined>;
  /** Corrupt files met while restoring, oldest first, for logs and metrics: a reader remembers how many it has reported. */
  readonly problems: readonly CheckpointProblem[];
}

/** One checkpoint id of several partitions, being written (CheckpointStore.begin). */
export interface CheckpointWrite {
  /**
   * Adds one partition's checkpoint (of the write's id). A rejection concerns this
   * partition only (refused, fenced): the others may still be added and committed.
   */
  add(checkpoint: PartitionCheckpoint): Promise<void>;
  /**
   * Makes the checkpoints added durable, then applies retention. Rejects when none of
   * them was written; a store that writes each in add() never rejects here.
   */
  commit(): Promise<void>;
}

/** The CheckpointWrite of a store that writes each partition's checkpoint on its own: add() is write(), nothing is left to commit. */
export function writeEachAlone(store: Pick<CheckpointStore, 'write'>): CheckpointWrite {
  return { add: (checkpoint) => store.write(checkpoint), commit: async () => undefined };
}

/** Something wrong found while restoring, for logs and metrics. */
export interface CheckpointProblem {
  file: string;
  error: CheckpointCorruptError;
}

/**
 * Checkpoints as files under `<dir>`: each checkpoint of a processor thread's partitions
 * is one bundle (`<id>.<first partition>.bundle`, checkpoint-bundle.ts) written as a temp
 * file, fsynced, renamed, and the directory fsynced, so a crash at any moment leaves whole
 * bundles only. Which bundles hold what is read once (checkpoint-catalog.ts) and then kept
 * in memory, so retention and trim offsets need no reads.
 *
 * The file work is synchronous: a store runs in a processor thread, whose checkpoint
 * pauses its processing anyway, and the libuv threadpool it would otherwise use is the
 * one the gateway's log writes wait for.
 *
 * A bundle is deleted once retention keeps none of its sections. Each thread's store
 * retires only the partitions it writes, so after `processors.threads` changes, a bundle
 * written before that holds partitions of two threads and stays (a few files, once).
 */
export class LocalCheckpointStore implements CheckpointStore {
  readonly problems: CheckpointProblem[] = [];
  private catalog: Promise<CheckpointCatalog> | undefined;
  private dirMade = false;

  constructor(
    private readonly dir: string,
    private readonly keep = 3,
  ) {}

  async write(checkpoint: PartitionCheckpoint): Promise<void> {
    const write = this.begin(checkpoint.id);
    await write.add(checkpoint);
    await write.commit();
  }

  begin(id: number): CheckpointWrite {
    return new BundleWrite(id, this.dir, {
      prepare: async () => {
        if (!this.dirMade) await makeDirectory(this.dir);
        this.dirMade = true;
      },
      committed: async (file, sections) => this.committed(file, sections),
    });
  }

  async restorable(partition: number): Promise<PartitionCheckpoint[]> {
    const catalog = await this.known();
    this.problems.push(...(catalog.damaged.get(partition) ?? []));
    catalog.damaged.delete(partition);
    const format1 = catalog.format1.get(partition);
    if (format1 !== undefined) {
      throw new CheckpointVersionError(
        `${format1}: a checkpoint of format 1, which this version does not read. ` +
          'Delete the checkpoints directory to start the processors from the log (or run the version that wrote it).',
      );
    }
    return newestRestorableChain(
      catalog.byPartition.get(partition) ?? [],
      (c) => this.load(c),
      (c, base) => {
        const where = locationOf(c);
        this.problems.push({ file: where, error: new CheckpointCorruptError(`${where}: the checkpoint it applies to (${base}) is missing`) });
      },
    );
  }

  async trimOffset(partition: number): Promise<number | undefined> {
    const catalog = await this.known();
    return lowestRetainedOffset(catalog.byPartition.get(partition) ?? [], this.keep, (c) => c.offset);
  }

  /** The directory's contents, read on first use; a failed read is tried again next time. */
  private known(): Promise<CheckpointCatalog> {
    this.catalog ??= scanCheckpoints(this.dir).catch((err: unknown) => {
      this.catalog = undefined;
      throw err;
    });
    return this.catalog;
  }

  /** Notes a bundle just renamed into place, then deletes what retention no longer keeps of its partitions. */
  private async committed(file: string, sections: readonly BundleSection[]): Promise<void> {
    const catalog = await this.known();
    catalog.bundles.set(file, new Set(sections.map((s) => s.partition)));
    for (const s of sections) {
      const list = catalog.byPartition.get(s.partition) ?? [];
      const stored: StoredCheckpoint = { ...s, file, section: { position: s.position, length: s.length } };
      const all = [stored, ...list.filter((c) => c.id !== s.id)].sort((a, b) => b.id - a.id);
      const kept = retainedIds(all, this.keep);
      const [keep, drop] = partition(all, (c) => kept.has(c.id));
      catalog.byPartition.set(s.partition, keep);
      for (const c of drop) this.retire(catalog, c);
    }
  }

  /** Deletes a per-partition file, or a bundle once none of its sections is kept. */
  private retire(catalog: CheckpointCatalog, c: StoredCheckpoint): void {
    if (c.section === undefined) {
      rmSync(c.file, { force: true });
      return;
    }
    const live = catalog.bundles.get(c.file);
    live?.delete(c.partition);
    if (live?.size === 0) {
      catalog.bundles.delete(c.file);
      rmSync(c.file, { force: true });
    }
  }

  /** Reads and checks one stored checkpoint; a corrupt one is recorded in `problems` and gives undefined. */
  private async load(c: StoredCheckpoint): Promise<PartitionCheckpoint | undefined> {
    const where = locationOf(c);
    try {
      const checkpoint = await decodeCheckpoint(await readStored(c), where);
      if (checkpoint.partition !== c.partition) throw new CheckpointCorruptError(`${where}: belongs to partition ${checkpoint.partition}`);
      if (checkpoint.id !== c.id || checkpoint.kind !== c.kind || checkpoint.base !== c.base) {
        const says = c.section === undefined ? 'its name says' : 'the index says';
        throw new CheckpointCorruptError(`${where}: holds ${checkpoint.kind} checkpoint ${checkpoint.id} (base ${checkpoint.base}), not what ${says}`);
      }
      return checkpoint;
    } catch (err) {
      if (!(err instanceof CheckpointCorruptError)) throw err;
      this.problems.push({ file: where, error: err });
      return undefined;
    }
  }
}

/** The bytes of a stored checkpoint: a bundle's section, or a whole per-partition file. */
async function readStored(c: StoredCheckpoint): Promise<Buffer> {
  if (c.section === undefined) return readFile(c.file);
  const file = await open(c.file, 'r');
  try {
    const bytes = Buffer.alloc(c.section.length);
    const { bytesRead } = await file.read(bytes, 0, bytes.length, c.section.position);
    return bytes.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

/** `items` split by `test`: those that pass, then the others. */
function partition<T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const item of items) (test(item) ? yes : no).push(item);
  return [yes, no];
}
