import { Piscina } from 'piscina';
import { compiledWorkerFile, SluiceError } from '../../core/index.js';
import type { WorkerData } from './config.js';
import type { DecodeJob, DecodeResult } from './decode-job.js';
import { decodeJob } from './decode.worker.js';

export interface DecodePoolOptions {
  /** Worker threads (all started up front). */
  threads: number;
  /** Jobs that may wait for a worker beyond the ones running. */
  maxQueue: number;
  /** Payload limits and ingest.mappings, handed to every worker as workerData. */
  limits: WorkerData;
  /** Jobs of at most this many payload bytes are decoded on the calling thread (decode.inlineMaxBytes); default 0: always in a worker. */
  inlineMaxBytes?: number;
}

/** The compiled decode worker's entry (see compiledWorkerFile and decode-worker-entry.cts). */
export function workerFile(): string {
  return compiledWorkerFile(import.meta.url, 'gateway/decode/decode-worker-entry.cjs');
}

/**
 * The piscina pool that decodes micro-batches. Bounded: at most `threads + maxQueue`
 * jobs in flight. When `saturated` the caller must stop feeding (hold authorizePublish)
 * and wait for `whenNotSaturated()` (several waiters all wake on a free slot: re-check); `decode` refuses rather than queue without bound,
 * because a busy main thread starves piscina's dispatch and an unbounded queue then grows.
 */
export class DecodePool {
  private readonly pool: Piscina<DecodeJob, DecodeResult>;
  private readonly capacity: number;
  private inFlightJobs = 0;
  private waiters: (() => void)[] = [];
  private readonly limits: WorkerData;
  private readonly inlineMaxBytes: number;
  /** Jobs decoded on the calling thread and in a worker, since the pool was made. */
  readonly stats = { inline: 0, worker: 0 };

  constructor({ threads, maxQueue, limits, inlineMaxBytes = 0 }: DecodePoolOptions) {
    this.capacity = threads + maxQueue;
    this.limits = limits;
    this.inlineMaxBytes = inlineMaxBytes;
    this.pool = new Piscina<DecodeJob, DecodeResult>({
      filename: workerFile(),
      minThreads: threads,
      maxThreads: threads,
      // Our own count keeps the bound; piscina's maxQueue is the same bound as a backstop.
      maxQueue,
      workerData: limits,
    });
  }

  /** True when no more jobs may be submitted until one completes. */
  get saturated(): boolean {
    return this.inFlightJobs >= this.capacity;
  }

  /** Jobs submitted and not yet settled (running or queued). */
  get inFlight(): number {
    return this.inFlightJobs;
  }

  /**
   * Decodes a job: a small one (inlineMaxBytes) at once on this thread, others in a worker;
   * `transferList` (from DecodeJobBuilder.take) moves its buffers. Rejects at once when saturated.
   */
  decode(job: DecodeJob, transferList: ArrayBuffer[]): Promise<DecodeResult> {
    if (job.payloads.byteLength <= this.inlineMaxBytes) {
      this.stats.inline++;
      try {
        const result = decodeJob(job, this.limits);
        result.jobBuffers = { payloads: job.payloads, meta: job.meta };
        return Promise.resolve(result);
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
    if (this.saturated) {
      return Promise.reject(
        new SluiceError('SLUICE_DECODE_SATURATED', `decode pool saturated (${this.inFlightJobs} jobs in flight): wait for whenNotSaturated()`, { canRetry: true }),
      );
    }
    this.inFlightJobs++;
    this.stats.worker++;
    return this.pool.run(job, { transferList }).finally(() => {
      this.inFlightJobs--;
      const wake = this.waiters;
      this.waiters = [];
      for (const resolve of wake) resolve();
    });
  }

  /** Resolves as soon as a job can be submitted (at once if it can now). */
  whenNotSaturated(): Promise<void> {
    if (!this.saturated) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Finishes queued and running jobs, then stops the workers. */
  async close(): Promise<void> {
    await this.pool.close();
  }
}
