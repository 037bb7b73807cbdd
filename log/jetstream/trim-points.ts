/**
 * Each partition's trim point (its start offset), kept in the meta KV bucket under
 * `<stream>.trim.<partition>` so that it outlives the client and is shared by every
 * process: a processor taking a partition over sees where the last owner trimmed. The
 * purge itself works on whole frames (see jetstream-log.ts), so the KV value, not the
 * stream, is what says a record below the start is gone. Points only rise (CAS on the
 * entry's revision), whoever trims concurrently.
 */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';

export class TrimPoints {
  /** The highest point this process has seen per partition; a KV read never lowers it. */
  private readonly seen: number[];
  /** When each partition's point was last read from the bucket (Date.now()). */
  private readonly fetchedAt: number[];

  constructor(
    private readonly kv: KV,
    private readonly stream: string,
    partitions: number,
  ) {
    this.seen = new Array<number>(partitions).fill(0);
    this.fetchedAt = new Array<number>(partitions).fill(-Infinity);
  }

  /**
   * The partition's start offset as the bucket held it at most `maxAgeMs` ago (0 before
   * any trim). A processor reads its partitions many times a second while idle; asking the
   * bucket each time doubled the requests. Only the partition's owner trims it (an earlier
   * owner is fenced before it can), so a second-old value is the current one in practice.
   */
  async get(partition: number, maxAgeMs = 0): Promise<number> {
    if (maxAgeMs > 0 && Date.now() - this.fetchedAt[partition]! <= maxAgeMs) return this.seen[partition]!;
    const entry = await this.kv.get(this.key(partition));
    const stored = entry && entry.operation === 'PUT' ? Number(entry.string()) : 0;
    this.seen[partition] = Math.max(this.seen[partition]!, stored);
    this.fetchedAt[partition] = Date.now();
    return this.seen[partition]!;
  }

  /** Raises the start offset to `offset` (never lowers it); durable when it resolves. */
  async raise(partition: number, offset: number): Promise<void> {
    const key = this.key(partition);
    for (;;) {
      const entry = await this.kv.get(key);
      const current = entry && entry.operation === 'PUT' ? Number(entry.string()) : 0;
      if (current >= offset) {
        this.seen[partition] = Math.max(this.seen[partition]!, current);
        return;
      }
      try {
        if (entry) await this.kv.update(key, String(offset), entry.revision);
        else await this.kv.create(key, String(offset));
        this.seen[partition] = Math.max(this.seen[partition]!, offset);
        return;
      } catch (err) {
        // A concurrent trim changed the entry: read it again and retry; anything else is real.
        if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence)) throw err;
      }
    }
  }

  private key(partition: number): string {
    return `${this.stream}.trim.${partition}`;
  }
}
