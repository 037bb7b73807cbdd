/**
 * JetStreamLog: the partitioned log on a NATS JetStream stream, for distributed mode.
 * One stream (default SLUICE), subject `<subjectPrefix>.<partition>` per partition, file
 * storage, 1 or 3 replicas; a publish ack is the durability point. Map of the files:
 * offsets.ts (offset = frame sequence × 1024 + index), frame.ts (the frame format),
 * partition-writer.ts (framing, one frame in flight per partition), frame-publisher.ts
 * (in-flight bound, retries with a stable Nats-Msg-Id), reader.ts (reads by direct get),
 * trim-points.ts (start offsets in KV), stream.ts (stream and bucket set-up), config.ts.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AckPolicy, DeliverPolicy, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, credsAuthenticator, nanos, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { ConfigError, LogClosedError, LogCorruptError, LogOffsetError, LogRecordInvalidError, LogUnavailableError } from '../../core/errors.js';
import type { Log, LogRecord } from '../log.js';
import { checkPayload } from '../record.js';
import { parseJetStreamLogConfig, type JetStreamLogConfig, type JetStreamLogConfigInput } from './config.js';
import { frameRecordCount } from './frame.js';
import { FramePublisher, type PublisherStats } from './frame-publisher.js';
import { frameSeqOf, isOffset, recordOffset } from './offsets.js';
import { PartitionWriter } from './partition-writer.js';
import { lastFrame, readRecords, type FrameSource } from './reader.js';
import { SeenFrames } from './seen-frames.js';
import { ensureStream, openMeta } from './stream.js';
import { TrimPoints } from './trim-points.js';

/** The config plus the partition count, fixed for the stream's lifetime (recorded in the meta bucket). */
export interface JetStreamLogOptions extends JetStreamLogConfigInput {
  partitions: number;
}

/** Room left in a message for its headers (Nats-Msg-Id and the protocol line) under the server's max_payload. */
const HEADER_ROOM = 1024;
const MAX_PARTITIONS = 4096;
const DEFAULT_MAX_RECORDS = 1000;
/** How old a trim point a read may check against (see TrimPoints.get). */
const TRIM_POINT_MAX_AGE_MS = 1000;

export class JetStreamLog implements Log {
  private closing: Promise<void> | null = null;
  /** One past the highest offset this process saw acked, per partition: what a read must at least see. */
  private readonly knownEnds: number[];

  private constructor(
    readonly partitions: number,
    readonly config: JetStreamLogConfig,
    /** Identifies this process's frames in their msg ids. */
    readonly bootId: string,
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly sources: FrameSource[],
    private readonly writers: PartitionWriter[],
    private readonly publisher: FramePublisher,
    private readonly trims: TrimPoints,
  ) {
    this.knownEnds = new Array<number>(partitions).fill(0);
  }

  /** The NATS connection the log uses: distributed mode's checkpoint store shares it (and never closes it). */
  get connection(): NatsConnection {
    return this.nc;
  }

  /** Connects, creates or checks the stream and the meta bucket; rejects with ConfigError or LogUnavailableError. */
  static async open(options: JetStreamLogOptions): Promise<JetStreamLog> {
    const { partitions, ...rest } = options;
    const config = parseJetStreamLogConfig(rest);
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
      throw new ConfigError(`partitions: expected an integer 1..${MAX_PARTITIONS} (got ${JSON.stringify(partitions)})`);
    }
    const nc = await connect(natsConnectionOptions(config)).catch((err: unknown) => {
      const message = (err as Error).message;
      const fix = /authori[sz]ation|authentication/i.test(message) ? 'the server refused the credentials: set nats.user and nats.pass, nats.token or nats.credsFile to what it expects' : 'check nats.servers and that nats-server runs with -js';
      throw new LogUnavailableError(`cannot connect to NATS at ${config.servers.join(', ')}: ${message}; ${fix}`, { cause: err });
    });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await ensureStream(jsm, config);
      const kv = await openMeta(jsm, config, partitions);
      const hardMax = (nc.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM;
      const limits = { maxFrameBytes: Math.min(config.maxFrameBytes, hardMax), hardMaxFrameBytes: hardMax, frameDelayMs: config.frameDelayMs };
      const publisher = new FramePublisher(jsm.jetstream(), config.maxInflightFrames, config.publishTimeoutMs);
      const bootId = randomBytes(9).toString('base64url');
      const subject = (p: number): string => `${config.subjectPrefix}.${p}`;
      const sources = Array.from({ length: partitions }, (_, p) => ({ jsm, stream: config.stream, subject: subject(p), partition: p, direct: info.config.allow_direct, seen: new SeenFrames() }));
      const writers = Array.from({ length: partitions }, (_, p) => new PartitionWriter(p, subject(p), bootId, limits, publisher));
      return new JetStreamLog(partitions, config, bootId, nc, jsm, sources, writers, publisher, new TrimPoints(kv, config.stream, partitions));
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err instanceof ConfigError ? err : unavailable(`cannot set up stream ${config.stream}`, err);
    }
  }

  /**
   * Appends one record; resolves with its offset once the frame holding it is acked by
   * the stream (stored on a majority of replicas). Never rejects for a transient failure:
   * it stays pending, retried, until close(). Keep `payload` unchanged until it settles.
   */
  append(partition: number, payload: Uint8Array): Promise<number> {
    try {
      this.assertOpen();
      this.checkPartition(partition);
      const refusal = checkPayload(payload);
      if (refusal) throw new LogRecordInvalidError(`partition ${partition}: ${refusal}`);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.writers[partition]!.append(payload).then((offset) => {
      if (offset >= this.knownEnds[partition]!) this.knownEnds[partition] = offset + 1;
      return offset;
    });
  }

  /** Records with offset ≥ `fromOffset`, in order, at most `maxRecords`; [] when none yet. Below the start offset: LogOffsetError. */
  async read(partition: number, fromOffset: number, maxRecords = DEFAULT_MAX_RECORDS): Promise<LogRecord[]> {
    this.assertOpen();
    this.checkPartition(partition);
    if (!isOffset(fromOffset)) throw new LogOffsetError(`partition ${partition}: offset ${fromOffset} is not a non-negative integer`);
    const max = Math.floor(maxRecords);
    if (!(max > 0)) return [];
    const src = this.sources[partition]!;
    try {
      const start = await this.trims.get(partition, TRIM_POINT_MAX_AGE_MS);
      if (fromOffset < start) throw new LogOffsetError(`partition ${partition}: offset ${fromOffset} is below the start offset ${start} (trimmed)`);
      return await readRecords(src, fromOffset, max, this.knownEnds[partition]!);
    } catch (err) {
      throw passThrough(err) ?? unavailable(`cannot read partition ${partition} from ${fromOffset}`, err);
    }
  }

  /**
   * Drops records below `upToOffset`: the trim point goes to the meta bucket first (from
   * then on reads below it fail), then the partition's frames wholly below it are purged.
   * A frame that straddles the point is kept; the trim point hides its lower records.
   */
  async trim(partition: number, upToOffset: number): Promise<void> {
    this.assertOpen();
    this.checkPartition(partition);
    if (!isOffset(upToOffset)) throw new LogOffsetError(`partition ${partition}: cannot trim to ${upToOffset}; expected a non-negative integer`);
    try {
      if (upToOffset <= (await this.trims.get(partition))) return;
      const end = await this.endOffset(partition);
      // Past the end, records appended later could land below the start and vanish.
      if (upToOffset > end) throw new LogOffsetError(`partition ${partition}: cannot trim to ${upToOffset}; only offsets up to ${end} are stored`);
      await this.trims.raise(partition, upToOffset);
      const seq = frameSeqOf(upToOffset);
      // Purge "below seq" with seq 0 would purge the whole subject: only purge a real lower bound.
      if (seq > 1) await this.jsm.streams.purge(this.config.stream, { filter: this.sources[partition]!.subject, seq });
    } catch (err) {
      throw passThrough(err) ?? unavailable(`cannot trim partition ${partition} to ${upToOffset}`, err);
    }
  }

  /** The last trim point of `partition` (0 before any), as the meta bucket holds it. */
  async startOffset(partition: number): Promise<number> {
    this.assertOpen();
    this.checkPartition(partition);
    try {
      return await this.trims.get(partition);
    } catch (err) {
      throw unavailable(`cannot read the start offset of partition ${partition}`, err);
    }
  }

  /**
   * How many records have offset ≥ `fromOffset`. Exact inside the newest frame; beyond,
   * an estimate: the frames from `fromOffset` on (num_pending of a short-lived consumer
   * filtered on the partition) times the newest frame's record count. 0 when caught up.
   */
  async pending(partition: number, fromOffset: number): Promise<number> {
    this.assertOpen();
    this.checkPartition(partition);
    if (!isOffset(fromOffset)) throw new LogOffsetError(`partition ${partition}: offset ${fromOffset} is not a non-negative integer`);
    const src = this.sources[partition]!;
    try {
      const last = await lastFrame(src);
      if (!last) return 0;
      const count = frameRecordCount(last.data);
      const end = recordOffset(last.seq, count);
      if (fromOffset >= end) return 0;
      const fromSeq = frameSeqOf(fromOffset);
      if (fromSeq >= last.seq) return end - fromOffset;
      const index = fromOffset - recordOffset(fromSeq, 0);
      const frames = await this.framesFrom(src, Math.max(1, fromSeq));
      return Math.max(1, frames * count - index);
    } catch (err) {
      throw passThrough(err) ?? unavailable(`cannot count pending records of partition ${partition}`, err);
    }
  }

  /** Counters of the publisher: frames, retries, de-duplicated retries, longest wait. */
  get stats(): Readonly<PublisherStats> {
    return this.publisher.stats;
  }

  /** Second copies of frames the reads skipped (stored twice: retried after the stream's duplicate window; see seen-frames.ts). */
  get framesStoredTwice(): number {
    return this.sources.reduce((n, src) => n + src.seen.skipped, 0);
  }

  /**
   * Publishes what is queued, then closes the connection; idempotent. If the server is
   * away, an append still waiting is rejected with LogClosedError (never acknowledged).
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.publisher.close();
      for (const writer of this.writers) writer.flush();
      await Promise.all(this.writers.map((w) => w.idle()));
      await this.nc.close();
    })();
    return this.closing;
  }

  /** One past the partition's last stored offset, from the leader (0 when empty). */
  private async endOffset(partition: number): Promise<number> {
    const last = await lastFrame(this.sources[partition]!);
    return last ? recordOffset(last.seq, frameRecordCount(last.data)) : 0;
  }

  /** Frames on the partition's subject at sequence ≥ `seq`: num_pending of an ephemeral consumer, deleted at once. */
  private async framesFrom(src: FrameSource, seq: number): Promise<number> {
    const info = await this.jsm.consumers.add(src.stream, {
      filter_subject: src.subject,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: seq,
      ack_policy: AckPolicy.None,
      mem_storage: true,
      num_replicas: 1,
      // If the delete below is lost, the server removes it anyway.
      inactive_threshold: nanos(30_000),
    });
    void this.jsm.consumers.delete(src.stream, info.name).catch(() => undefined);
    return info.num_pending;
  }

  private assertOpen(): void {
    if (this.closing) throw new LogClosedError(`JetStream log on stream ${this.config.stream} is closed`);
  }

  private checkPartition(partition: number): void {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw new LogOffsetError(`partition ${partition} does not exist; the log has partitions 0..${this.partitions - 1}`);
    }
  }
}

/** The client options for `config`: reconnect forever (an append waits for the server rather than failing). */
/** How a process connects to the configured NATS cluster (servers, credentials, TLS; reconnecting for ever). */
export function natsConnectionOptions(config: JetStreamLogConfig): NodeConnectionOptions {
  const options: NodeConnectionOptions = {
    servers: config.servers,
    name: `sluice-log-${config.stream}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  };
  if (config.user !== undefined) Object.assign(options, { user: config.user, pass: config.pass });
  if (config.token !== undefined) options.token = config.token;
  if (config.credsFile !== undefined) options.authenticator = credsAuthenticator(readFileSync(config.credsFile));
  if (config.tls) options.tls = { caFile: config.tls.ca, certFile: config.tls.cert, keyFile: config.tls.key };
  return options;
}

/** The log's own errors go to the caller as they are. */
function passThrough(err: unknown): Error | undefined {
  return err instanceof LogOffsetError || err instanceof LogCorruptError || err instanceof LogClosedError ? err : undefined;
}

function unavailable(what: string, err: unknown): LogUnavailableError {
  return new LogUnavailableError(`${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
