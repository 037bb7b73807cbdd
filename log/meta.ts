/** `<dir>/meta.json`: the on-disk format version and the partition count, fixed at creation. */
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { readJsonChecked, writeJsonAtomic } from './files.js';

/** Format 2: one shared commit log plus per-partition indexes (format 1 had a segment folder per partition). */
const FORMAT = 2;
const metaSchema = z.object({ version: z.number().int().positive(), partitions: z.number().int().positive() });

/** Records the format and partition count on first open; refuses another format or a different count. */
export async function checkMeta(dir: string, partitions: number): Promise<void> {
  const path = join(dir, 'meta.json');
  const meta = await readJsonChecked(path, metaSchema, '{"version":2,"partitions":N}');
  if (meta === undefined) return writeJsonAtomic(path, { version: FORMAT, partitions });
  if (meta.version !== FORMAT) {
    throw new ConfigError(
      `log.dir: the log at ${dir} uses on-disk format ${meta.version} (meta.json); this build reads format ${FORMAT} ` +
        '(one shared commit log); replay it into a new dir with the build that wrote it, or use a new dir',
    );
  }
  if (meta.partitions !== partitions) {
    throw new ConfigError(
      `log.partitions: the log at ${dir} was created with ${meta.partitions} partitions (meta.json) and cannot be opened with ${partitions}; ` +
        'the partition count is fixed for a log’s lifetime — use the original count or a new dir',
    );
  }
}
