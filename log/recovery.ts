/**
 * Open-time recovery: cut the newest commit segment's torn tail and bring every partition
 * index back in line with the commit log. Index files are not fsynced on the append path,
 * so only entries the checkpoint vouches for are kept; the rest are rebuilt by scanning
 * the commit log from the checkpoint position (usually inside the newest segment, which
 * is scanned anyway). Old segments are only scanned when an index lost entries the
 * checkpoint promised (a deleted or truncated index file).
 */
import { IndexSet, type Checkpoint } from './index-set.js';
import type { CommitLog, RecoveryNote } from './commit-log.js';
import { MISSING, PartitionIndex } from './partition-index.js';
import type { RecordVisitor } from './segment.js';

/** What recovery settled for each partition, and what it had to change. */
export interface Recovered {
  indexes: PartitionIndex[];
  /** Per partition: the lowest readable offset (trim point, or index base when higher). */
  starts: number[];
  note: RecoveryNote | undefined;
  /** Whether any index changed, so a fresh checkpoint is worth writing. */
  changed: boolean;
}

/** Opens the indexes in `indexDir`, repairs them from `commit` and cuts the commit log's torn tail. */
export async function recover(
  commit: CommitLog,
  indexDir: string,
  trimStarts: readonly number[],
  ckpt: Checkpoint | undefined,
): Promise<Recovered> {
  const indexes: PartitionIndex[] = [];
  const rebuiltParts = new Set<number>();
  let repairFrom = Number.POSITIVE_INFINITY;
  let changed = false;
  try {
    for (const [p, trimStart] of trimStarts.entries()) {
      const { index, rebuilt } = await PartitionIndex.open(IndexSet.path(indexDir, p), trimStart);
      indexes.push(index);
      if (rebuilt) rebuiltParts.add(p);
      const { trusted, resume } = await trust(index, rebuilt, ckpt?.position, ckpt?.ends[p], commit.start);
      if (trusted < index.end) {
        await index.truncateFrom(trusted);
        changed = true;
      }
      repairFrom = Math.min(repairFrom, resume);
    }
    const before = indexes.map((idx) => idx.end);
    const apply = applier(indexes, rebuiltParts, trimStarts);
    repairFrom = Math.max(repairFrom, commit.start);
    if (repairFrom < commit.active.base) await commit.scanSealed(repairFrom, apply);
    const note = await commit.recoverTail((p, o, pos, ok) => {
      if (pos >= repairFrom) apply(p, o, pos, ok);
    });
    const starts: number[] = [];
    for (const [p, idx] of indexes.entries()) {
      // A record the index knew of may be gone with the torn tail (or under 'never' a crash).
      let keep = idx.end;
      while (keep > idx.base) {
        const pos = await idx.entryAt(keep - 1);
        if (pos !== MISSING && pos < commit.end) break;
        keep--;
      }
      await idx.truncateFrom(keep);
      const start = Math.max(trimStarts[p]!, idx.base);
      // trim.json ahead of the data (a crash under 'never' lost records a trim had passed):
      // the partition restarts empty at its start offset.
      if (idx.end < start) {
        await idx.truncateFrom(idx.base);
        idx.moveEmptyBase(start);
      }
      starts.push(start);
      changed ||= idx.end !== before[p] || idx.headerStale;
    }
    changed ||= ckpt === undefined || ckpt.position !== commit.end || rebuiltParts.size > 0;
    return { indexes, starts, note, changed };
  } catch (err) {
    await Promise.all(indexes.map((idx) => idx.close()));
    throw err;
  }
}

/** How many of an index's entries to keep (as an end offset) and where its repair scan starts. */
async function trust(
  index: PartitionIndex,
  rebuilt: boolean,
  ckptPosition: number | undefined,
  ckptEnd: number | undefined,
  logStart: number,
): Promise<{ trusted: number; resume: number }> {
  if (rebuilt || ckptPosition === undefined || ckptEnd === undefined) return { trusted: index.base, resume: logStart };
  // A compaction rewrote (and fsynced) the file after the checkpoint: all of it is good.
  if (ckptEnd < index.base) return { trusted: index.end, resume: ckptPosition };
  if (ckptEnd <= index.end) return { trusted: ckptEnd, resume: ckptPosition };
  // The file lost entries the checkpoint promised: rescan from its last surviving entry.
  if (index.end === index.base) return { trusted: index.base, resume: logStart };
  const last = await index.entryAt(index.end - 1);
  return { trusted: index.end, resume: last === MISSING ? logStart : last };
}

/**
 * The scan visitor: adds each record that is the next one its partition's index expects.
 * A record with a bad CRC is only taken when its header names exactly that slot (then a
 * read reports the damage); otherwise its fields are noise and a later record of the same
 * partition leaves a gap of MISSING entries, which reads report as corrupt, never skip.
 */
function applier(indexes: PartitionIndex[], rebuilt: ReadonlySet<number>, trimStarts: readonly number[]): RecordVisitor {
  return (p, offset, position, ok) => {
    const idx = indexes[p];
    if (idx === undefined || offset < idx.end) return;
    if (offset > idx.end) {
      if (!ok) return;
      // An empty index restarts at the first record the retained segments hold when the
      // records below it were trimmed (or when it was rebuilt: trim.json may be gone too).
      // Anywhere else a jump in offsets means lost records.
      const trimmedBelow = offset <= trimStarts[p]! || rebuilt.has(p);
      if (idx.end === idx.base && trimmedBelow) idx.moveEmptyBase(offset);
      else for (let o = idx.end; o < offset; o++) idx.add(MISSING);
    }
    idx.add(position);
  };
}

