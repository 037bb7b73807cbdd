/**
 * Every partition's start offset, persisted together in `<dir>/trim.json`. Trims that
 * arrive while a write runs share the next write, so a processor trimming all partitions
 * after a checkpoint costs a couple of atomic writes, not one per partition.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { LogCorruptError } from '../core/errors.js';
import { readJsonChecked, writeJsonAtomic } from './files.js';

const trimFileSchema = z.object({ version: z.literal(1), startOffsets: z.array(z.number().int().nonnegative()) });

export class TrimState {
  /** Start offsets as asked for; `starts` catches up once they are durable. */
  private readonly wanted: number[];
  private written: number[];
  private writing: Promise<void> = Promise.resolve();
  private next: Promise<void> | null = null;

  private constructor(
    private readonly path: string,
    /** The durable start offset of each partition: reads below it fail. */
    readonly starts: number[],
  ) {
    this.wanted = [...starts];
    this.written = [...starts];
  }

  /** Reads `<dir>/trim.json` (absent: every partition starts at 0). */
  static async open(dir: string, partitions: number): Promise<TrimState> {
    const path = join(dir, 'trim.json');
    const file = await readJsonChecked(path, trimFileSchema, '{"version":1,"startOffsets":[<integer ≥ 0>, ...]}');
    const starts = file?.startOffsets ?? new Array<number>(partitions).fill(0);
    if (starts.length !== partitions) {
      throw new LogCorruptError(`${path} holds ${starts.length} start offsets; the log has ${partitions} partitions`);
    }
    return new TrimState(path, starts);
  }

  /** Replaces the start offsets recovery settled on (never below what trim.json said). */
  settle(starts: readonly number[]): void {
    starts.forEach((s, p) => {
      this.starts[p] = this.wanted[p] = s;
    });
  }

  /**
   * Raises partition `p`'s start offset to `upTo`, in `starts` only once trim.json holds it.
   * The write snapshots every wanted offset when it begins, so concurrent trims share it.
   */
  raise(p: number, upTo: number): Promise<void> {
    this.wanted[p] = Math.max(this.wanted[p]!, upTo);
    return this.persist();
  }

  private persist(): Promise<void> {
    this.next ??= this.writing.then(async () => {
      this.next = null;
      const snapshot = [...this.wanted];
      if (snapshot.some((s, p) => s !== this.written[p])) {
        await writeJsonAtomic(this.path, { version: 1, startOffsets: snapshot });
        this.written = snapshot;
      }
      snapshot.forEach((s, p) => {
        this.starts[p] = Math.max(this.starts[p]!, s);
      });
    });
    const run = this.next;
    this.writing = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}
