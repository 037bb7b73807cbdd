import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { encodeBundleIndex, sectionOf, type BundleSection } from './checkpoint-bundle.js';
import { encodeCheckpoint, type PartitionCheckpoint } from './checkpoint-file.js';
import type { CheckpointWrite } from './checkpoint-store.js';

/** What a BundleWrite needs of its LocalCheckpointStore. */
export interface BundleWriteHooks {
  /** Before the first byte: the directory exists. */
  prepare(): Promise<void>;
  /** After the rename and the directory's fsync: the bundle is durable. */
  committed(file: string, sections: readonly BundleSection[]): Promise<void>;
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/**
 * One bundle being written: each added checkpoint is encoded and appended to a temp file
 * at once, so a thread's state is never all in memory together; commit appends the
 * index, fsyncs, renames and fsyncs the directory. A failure removes the temp file and
 * refuses every partition of the bundle: they keep their previous checkpoint.
 */
export class BundleWrite implements CheckpointWrite {
  private fd: number | undefined;
  private temp = '';
  private final = '';
  private position = 0;
  private readonly sections: BundleSection[] = [];
  private failed: unknown;

  constructor(
    private readonly id: number,
    private readonly dir: string,
    private readonly hooks: BundleWriteHooks,
  ) {}

  async add(checkpoint: PartitionCheckpoint): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    if (checkpoint.id !== this.id) throw new RangeError(`checkpoint ${checkpoint.id} of partition ${checkpoint.partition} added to the write of checkpoint ${this.id}`);
    if (this.sections.some((s) => s.partition === checkpoint.partition)) throw new RangeError(`partition ${checkpoint.partition} added twice to checkpoint ${this.id}`);
    try {
      const bytes = await encodeCheckpoint(checkpoint);
      if (this.fd === undefined) {
        await this.hooks.prepare();
        // Named after its first partition: partitions are each one writer's, so two threads' bundles of one id differ.
        this.final = join(this.dir, `${pad(this.id, 16)}.${pad(checkpoint.partition, 3)}.bundle`);
        this.temp = `${this.final}.tmp`;
        this.fd = openSync(this.temp, 'w');
      }
      writeAll(this.fd, bytes);
      this.sections.push({ ...sectionOf(checkpoint, this.position, bytes.length), id: this.id });
      this.position += bytes.length;
    } catch (err) {
      this.fail(err);
      throw err;
    }
  }

  async commit(): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    if (this.fd === undefined) return;
    try {
      writeAll(this.fd, encodeBundleIndex(this.id, this.sections));
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = undefined;
      renameSync(this.temp, this.final);
      syncDirectory(this.dir);
    } catch (err) {
      this.fail(err);
      throw err;
    }
    await this.hooks.committed(this.final, this.sections);
  }

  /** Gives back the temp file's space (a full disk needs it) and remembers why. */
  private fail(err: unknown): void {
    this.failed = err;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    if (this.temp !== '') rmSync(this.temp, { force: true });
  }
}

/** Writes every byte of `bytes` at the file's position. */
function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
