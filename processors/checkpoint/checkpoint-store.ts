import { open, readdir, readFile, rename, rm, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointCorruptError, decodeCheckpoint, encodeCheckpoint, type PartitionCheckpoint } from './checkpoint-file.js';

/** Where checkpoints live; the local directory now, JetStream's object store in distributed mode. */
export interface CheckpointStore {
  /** Writes a checkpoint atomically; once it resolves, a crash leaves either it or the previous one. */
  write(checkpoint: PartitionCheckpoint): Promise<void>;
  /** The newest checkpoint of a partition that passes its checks, falling back past corrupt ones. */
  latest(partition: number): Promise<PartitionCheckpoint | undefined>;
}

/** Something wrong found while restoring, for logs and metrics. */
export interface CheckpointProblem {
  file: string;
  error: CheckpointCorruptError;
}

const NAME = /^(\d{16})\.ckpt$/;
const fileName = (id: number): string => `${String(id).padStart(16, '0')}.ckpt`;

/**
 * Checkpoints as files under `<dir>/<partition>/`: temp file, fsync, rename, fsync of the
 * directory, so a crash at any moment leaves whole files only. Keeps the newest `keep`.
 */
export class LocalCheckpointStore implements CheckpointStore {
  readonly problems: CheckpointProblem[] = [];

  constructor(
    private readonly dir: string,
    private readonly keep = 3,
  ) {}

  private partitionDir(partition: number): string {
    return join(this.dir, String(partition).padStart(3, '0'));
  }

  async write(checkpoint: PartitionCheckpoint): Promise<void> {
    const dir = this.partitionDir(checkpoint.partition);
    await mkdir(dir, { recursive: true });
    const final = join(dir, fileName(checkpoint.id));
    const temp = `${final}.tmp`;
    const file = await open(temp, 'w');
    try {
      await file.writeFile(encodeCheckpoint(checkpoint));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, final);
    const dirHandle = await open(dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
    const ids = await this.ids(checkpoint.partition);
    await Promise.all(ids.slice(this.keep).map((id) => rm(join(dir, fileName(id)), { force: true })));
  }

  async latest(partition: number): Promise<PartitionCheckpoint | undefined> {
    const dir = this.partitionDir(partition);
    for (const id of await this.ids(partition)) {
      const file = join(dir, fileName(id));
      try {
        const checkpoint = decodeCheckpoint(await readFile(file), file);
        if (checkpoint.partition !== partition) throw new CheckpointCorruptError(`${file}: belongs to partition ${checkpoint.partition}`);
        return checkpoint;
      } catch (err) {
        if (!(err instanceof CheckpointCorruptError)) throw err;
        this.problems.push({ file, error: err });
      }
    }
    return undefined;
  }

  /** Checkpoint ids of a partition, newest first (temp files of interrupted writes are ignored). */
  private async ids(partition: number): Promise<number[]> {
    const names = await readdir(this.partitionDir(partition)).catch(() => [] as string[]);
    return names
      .map((n) => NAME.exec(n)?.[1])
      .filter((id): id is string => id !== undefined)
      .map(Number)
      .sort((a, b) => b - a);
  }
}
