import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirectory } from '../../core/index.js';
import {
  CHECKPOINT_HEADER_BYTES,
  CheckpointCorruptError,
  CheckpointVersionError,
  decodeCheckpoint,
  decodeCheckpointHeader,
  encodeCheckpoint,
  type PartitionCheckpoint,
} from './checkpoint-file.js';
import { lowestRetainedOffset, newestRestorableChain, retainedIds, type ChainLink } from './checkpoint-chain.js';

/** Where checkpoints live; the local directory now, JetStream's object store in distributed mode. */
export interface CheckpointStore {
  /**
   * Writes a checkpoint atomically (once it resolves, a crash leaves either it or the
   * previous one), then deletes what retention no longer needs: the newest `keep`
   * checkpoints stay restorable, so they and every checkpoint they depend on are kept.
   */
  write(checkpoint: PartitionCheckpoint): Promise<void>;
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

/** Something wrong found while restoring, for logs and metrics. */
export interface CheckpointProblem {
  file: string;
  error: CheckpointCorruptError;
}

/** A checkpoint file, known by its name: `<id>.full.ckpt` or `<id>.delta-<base id>.ckpt` (ids 16 digits). */
interface Entry extends ChainLink {
  name: string;
}

const NAME = /^(\d{16})\.(?:full|delta-(\d{16}))\.ckpt$/;
/** Format 1 file names (`<id>.ckpt`): refused with CheckpointVersionError. */
const FORMAT_1_NAME = /^\d{16}\.ckpt$/;
const pad = (id: number): string => String(id).padStart(16, '0');
const fileName = (c: Pick<PartitionCheckpoint, 'id' | 'kind' | 'base'>): string => (c.kind === 'full' ? `${pad(c.id)}.full.ckpt` : `${pad(c.id)}.delta-${pad(c.base)}.ckpt`);

/**
 * Checkpoints as files under `<dir>/<partition>/`: temp file, fsync, rename, fsync of the
 * directory, so a crash at any moment leaves whole files only. The names say which
 * checkpoint a delta applies to, so retention needs no reads.
 */
export class LocalCheckpointStore implements CheckpointStore {
  readonly problems: CheckpointProblem[] = [];
  /** Log offsets of checkpoint files written or read, by path (trimOffset reads the header of others). */
  private readonly offsets = new Map<string, number>();

  constructor(
    private readonly dir: string,
    private readonly keep = 3,
  ) {}

  private partitionDir(partition: number): string {
    return join(this.dir, String(partition).padStart(3, '0'));
  }

  async write(checkpoint: PartitionCheckpoint): Promise<void> {
    const dir = this.partitionDir(checkpoint.partition);
    const bytes = await encodeCheckpoint(checkpoint);
    await makeDirectory(dir);
    const final = join(dir, fileName(checkpoint));
    const temp = `${final}.tmp`;
    const file = await open(temp, 'w');
    try {
      await file.writeFile(bytes);
      await file.sync();
    } catch (err) {
      // A temp file is never restored from: removing it gives back the space a full disk needs.
      await file.close();
      await rm(temp, { force: true }).catch(() => undefined);
      throw err;
    }
    await file.close();
    await rename(temp, final);
    const dirHandle = await open(dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
    this.offsets.set(final, checkpoint.offset);
    const entries = await this.entries(checkpoint.partition);
    const kept = retainedIds(entries, this.keep);
    await Promise.all(
      entries
        .filter((e) => !kept.has(e.id))
        .map((e) => {
          const path = join(dir, e.name);
          this.offsets.delete(path);
          return rm(path, { force: true });
        }),
    );
  }

  async restorable(partition: number): Promise<PartitionCheckpoint[]> {
    const dir = this.partitionDir(partition);
    const entries = await this.entries(partition, true);
    return newestRestorableChain(
      entries,
      (e) => this.load(join(dir, e.name), partition, e),
      (e, base) => {
        const file = join(dir, e.name);
        this.problems.push({ file, error: new CheckpointCorruptError(`${file}: the checkpoint it applies to (${base}) is missing`) });
      },
    );
  }

  async trimOffset(partition: number): Promise<number | undefined> {
    const dir = this.partitionDir(partition);
    const entries = await this.entries(partition);
    return lowestRetainedOffset(entries, this.keep, (e) => {
      const path = join(dir, e.name);
      return this.offsets.get(path) ?? this.readOffset(path, partition);
    });
  }

  /** Reads and checks one file; a corrupt one is recorded in `problems` and gives undefined. */
  private async load(file: string, partition: number, e: Entry): Promise<PartitionCheckpoint | undefined> {
    try {
      const checkpoint = await decodeCheckpoint(await readFile(file), file);
      if (checkpoint.partition !== partition) throw new CheckpointCorruptError(`${file}: belongs to partition ${checkpoint.partition}`);
      if (checkpoint.id !== e.id || checkpoint.kind !== e.kind || checkpoint.base !== e.base) {
        throw new CheckpointCorruptError(`${file}: holds ${checkpoint.kind} checkpoint ${checkpoint.id} (base ${checkpoint.base}), not what its name says`);
      }
      this.offsets.set(file, checkpoint.offset);
      return checkpoint;
    } catch (err) {
      if (!(err instanceof CheckpointCorruptError)) throw err;
      this.problems.push({ file, error: err });
      return undefined;
    }
  }

  /** A file's log offset from its header; undefined if it cannot be read (then it cannot be restored either). */
  private async readOffset(path: string, partition: number): Promise<number | undefined> {
    try {
      const file = await open(path, 'r');
      try {
        const { buffer, bytesRead } = await file.read(Buffer.alloc(CHECKPOINT_HEADER_BYTES), 0, CHECKPOINT_HEADER_BYTES, 0);
        const header = decodeCheckpointHeader(buffer.subarray(0, bytesRead), path);
        if (header.partition !== partition) return undefined;
        this.offsets.set(path, header.offset);
        return header.offset;
      } finally {
        await file.close();
      }
    } catch {
      return undefined;
    }
  }

  /**
   * A partition's checkpoint files, newest first (temp files of interrupted writes are
   * ignored). With `refuseOld`, a file of format 1 is a CheckpointVersionError.
   */
  private async entries(partition: number, refuseOld = false): Promise<Entry[]> {
    const dir = this.partitionDir(partition);
    const names = await readdir(dir).catch(() => [] as string[]);
    const entries: Entry[] = [];
    for (const name of names) {
      const m = NAME.exec(name);
      if (m) {
        entries.push({ id: Number(m[1]), kind: m[2] === undefined ? 'full' : 'delta', base: m[2] === undefined ? 0 : Number(m[2]), name });
      } else if (refuseOld && FORMAT_1_NAME.test(name)) {
        throw new CheckpointVersionError(
          `${join(dir, name)}: a checkpoint of format 1, which this version does not read. ` +
            'Delete the checkpoints directory to start the processors from the log (or run the version that wrote it).',
        );
      }
    }
    return entries.sort((a, b) => b.id - a.id);
  }
}
