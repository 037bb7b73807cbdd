/**
 * Frames one partition's appends. Appends accumulate in the open frame until it is full
 * (maxFrameBytes or RECORDS_PER_FRAME records) or, on an idle partition, `frameDelayMs`
 * has passed; it is then published. ONE frame per partition is in flight at a time, and
 * while it is, the next frame fills (group commit: the busier the partition, the larger
 * its frames). One at a time is what keeps offsets in call order through retries: were
 * frame N+1 published while N waits for a retry, N+1 could take the lower sequence.
 * Partitions publish in parallel, bounded by the publisher's in-flight slots.
 *
 * Backpressure: an append resolves only when its frame is acked, and nothing here rejects
 * for a transient failure, so a caller bounding its pending appends (the gateway bounds
 * in-flight bytes) is held back while the server is away.
 */
import { LogClosedError, LogRecordInvalidError } from '../../core/errors.js';
import { encodeFrame, FRAME_HEADER_BYTES, framedSize } from './frame.js';
import type { FramePublisher } from './frame-publisher.js';
import { RECORDS_PER_FRAME, recordOffset } from './offsets.js';

interface PendingAppend {
  payload: Uint8Array;
  resolve(offset: number): void;
  reject(err: unknown): void;
}

interface Frame {
  /** Counts this writer's frames; part of the msg id, so stable across retries. */
  id: number;
  appends: PendingAppend[];
  bytes: number;
  /** The delay passed: publish as soon as the partition is free. */
  due: boolean;
  timer?: NodeJS.Timeout | NodeJS.Immediate;
}

/** Sizes that shape a partition's frames. */
export interface FrameLimits {
  /** A frame closes before it would pass this many bytes. */
  maxFrameBytes: number;
  /** The largest frame the server takes (its max_payload, less room for headers); a record alone may use it all. */
  hardMaxFrameBytes: number;
  frameDelayMs: number;
}

export class PartitionWriter {
  private open: Frame | null = null;
  private readonly sealed: Frame[] = [];
  private sending = false;
  private nextFrameId = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly partition: number,
    private readonly subject: string,
    /** The writer's boot id: msg ids of this process never collide with another's or an earlier run's. */
    private readonly bootId: string,
    private readonly limits: FrameLimits,
    private readonly publisher: FramePublisher,
  ) {}

  /** Queues `payload` into the open frame; resolves with its offset once the frame is acked. */
  append(payload: Uint8Array): Promise<number> {
    const size = framedSize(payload.length);
    if (FRAME_HEADER_BYTES + size > this.limits.hardMaxFrameBytes) {
      return Promise.reject(
        new LogRecordInvalidError(
          `partition ${this.partition}: record of ${payload.length} bytes does not fit the server's max_payload (${this.limits.hardMaxFrameBytes} bytes a frame); send smaller batches or raise max_payload`,
        ),
      );
    }
    return new Promise<number>((resolve, reject) => {
      let frame = this.open;
      if (frame && (frame.bytes + size > this.limits.maxFrameBytes || frame.appends.length >= RECORDS_PER_FRAME)) {
        this.seal(frame);
        frame = null;
      }
      frame ??= this.startFrame();
      frame.appends.push({ payload, resolve, reject });
      frame.bytes += size;
      if (frame.bytes >= this.limits.maxFrameBytes || frame.appends.length >= RECORDS_PER_FRAME) this.seal(frame);
      this.pump(false);
    });
  }

  /** Publishes the open frame without waiting for its delay (close uses it). */
  flush(): void {
    if (this.open) this.seal(this.open);
    this.pump(false);
  }

  /** Resolves once no frame is open, queued or in flight. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Rejects every frame not yet in flight with `err`. */
  private abandon(err: LogClosedError): void {
    if (this.open) this.seal(this.open);
    for (const frame of this.sealed.splice(0)) frame.appends.forEach((a) => a.reject(err));
  }

  private get busy(): boolean {
    return this.sending || this.open !== null || this.sealed.length > 0;
  }

  private startFrame(): Frame {
    const frame: Frame = { id: this.nextFrameId++, appends: [], bytes: FRAME_HEADER_BYTES, due: false };
    const due = (): void => {
      frame.due = true;
      this.pump(false);
    };
    // Delay 0 still gathers the appends made in the same turn of the event loop.
    frame.timer = this.limits.frameDelayMs === 0 ? setImmediate(due) : setTimeout(due, this.limits.frameDelayMs);
    this.open = frame;
    return frame;
  }

  private seal(frame: Frame): void {
    clearTimeout(frame.timer as NodeJS.Timeout);
    clearImmediate(frame.timer as NodeJS.Immediate);
    frame.due = true;
    this.sealed.push(frame);
    if (this.open === frame) this.open = null;
  }

  /** Starts the next publish if none is under way. `afterAck`: the open frame goes now, full or not (it filled during the last round trip). */
  private pump(afterAck: boolean): void {
    if (this.sending) return;
    if (this.sealed.length === 0 && this.open && (this.open.due || afterAck)) this.seal(this.open);
    const frame = this.sealed.shift();
    if (!frame) {
      if (!this.busy) for (const wake of this.idleWaiters.splice(0)) wake();
      return;
    }
    this.sending = true;
    const bytes = encodeFrame(
      this.partition,
      frame.appends.map((a) => a.payload),
    );
    const msgId = `${this.bootId}.${this.partition}.${frame.id}`;
    this.publisher.publish(this.subject, bytes, msgId).then(
      (seq) => frame.appends.forEach((a, i) => a.resolve(recordOffset(seq, i))),
      (err: unknown) => {
        frame.appends.forEach((a) => a.reject(err));
        // Closing: the server is away, so the frames behind this one would only wait out a timeout each.
        if (err instanceof LogClosedError) this.abandon(err);
      },
    ).finally(() => {
      this.sending = false;
      this.pump(true);
    });
  }
}
