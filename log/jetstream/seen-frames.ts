/**
 * The frames one partition's reader has met, by writer, to skip a frame stored twice. Each
 * PartitionWriter numbers its frames, has one in flight at a time and publishes each with
 * the msg id `<boot id>.<partition>.<frame>`, the same for every retry. The stream drops a
 * repeated msg id only within its duplicate window, so a frame stored whose ack was lost,
 * and retried after the window (NATS unreachable that long), is stored again: a second
 * copy after the first and before that writer's next frame. Its seqs are de-duplicated by
 * the processors anyway; readings with seq 0 (Sparkplug, mapped topics without a sequence)
 * are not, and would count twice. The reader's instance is this process's memory; a
 * processor keeps one more per partition in its checkpoints (PartitionTask, fed from
 * LogRecord.frame), so one that restores the partition from a checkpoint taken between
 * the two copies still skips the second.
 */
export class SeenFrames {
  /** Per writer (boot id): its highest frame read and the sequence of that frame's first copy; least recently met first. */
  private readonly latest = new Map<string, { frame: number; seq: number }>();
  /** Sequences found to hold a second copy, so a read from before them skips them again. */
  private readonly copies = new Set<number>();
  /** Second copies skipped. */
  skipped = 0;

  constructor(
    /** Writers remembered (each gateway process that wrote to the partition is one). */
    private readonly maxWriters = 1024,
    private readonly maxCopies = 4096,
  ) {}

  /** Whether the frame at stream sequence `seq`, published with `msgId`, is a copy of one met at a lower sequence. */
  isCopy(msgId: string | undefined, seq: number): boolean {
    if (this.copies.has(seq)) return this.skip();
    const id = parseMsgId(msgId);
    if (id === undefined) return false;
    const last = this.latest.get(id.writer);
    if (last !== undefined && last.frame === id.frame && last.seq < seq) {
      if (this.copies.size < this.maxCopies) this.copies.add(seq);
      return this.skip();
    }
    // A frame older than the writer's highest is a read from further back: nothing to learn.
    if (last === undefined || id.frame > last.frame || (id.frame === last.frame && seq < last.seq)) this.remember(id.writer, id.frame, seq);
    return false;
  }

  /** What it knows per writer, least recently met first (for a checkpoint; `copies` is only a shortcut for re-reads). */
  *writers(): Generator<[writer: string, frame: number, seq: number]> {
    for (const [writer, { frame, seq }] of this.latest) yield [writer, frame, seq];
  }

  /** Takes on a writer's highest frame and the sequence of its first copy, as writers() gave them (in that order). */
  remember(writer: string, frame: number, seq: number): void {
    this.latest.delete(writer);
    this.latest.set(writer, { frame, seq });
    if (this.latest.size > this.maxWriters) this.latest.delete(this.latest.keys().next().value!);
  }

    private skip(): true {
    this.skipped++;
    return true;
  }
}

/** `<boot id>.<partition>.<frame>` (PartitionWriter's msg id): the writer (boot id and partition) and the frame number; undefined for anything else. */
function parseMsgId(msgId: string | undefined): { writer: string; frame: number } | undefined {
  if (msgId === undefined) return undefined;
  const dot = msgId.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const frame = Number(msgId.slice(dot + 1));
  if (!Number.isSafeInteger(frame) || frame < 0) return undefined;
  return { writer: msgId.slice(0, dot), frame };
}
