import { Piscina } from 'piscina';
import { compiledWorkerFile, SluiceError } from '../../core/index.js';
import type { PayloadLimits } from './config.js';
import type { DecodeJob, DecodeResult } from './decode-job.js';

export interface DecodePoolOptions {
  /** Worker threads (all started up front). */
  threads: number;
  /** Jobs that may wait for a worker beyond the ones running. */
  maxQueue: number;
  /** Payload limits, handed to every worker as workerData. */
  limits: PayloadLimits;
}

/** The compiled decode worker (see compiledWorkerFile). */
export function workerFile(): string {
  return compiledWorkerFile(import.meta.url, 'gateway/decode/decode.worker.js');
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

  constructor({ threads, maxQueue, limits }: DecodePoolOptions) {
    this.capacity = threads + maxQueue;
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

  /** Decodes a job in a worker; `transferList` (from DecodeJobBuilder.take) moves its buffers. Rejects at once when saturated. */
  decode(job: DecodeJob, transferList: ArrayBuffer[]): Promise<DecodeResult> {
    if (this.saturated) {
      return Promise.reject(
        new SluiceError('SLUICE_DECODE_SATURATED', `decode pool saturated (${this.inFlightJobs} jobs in flight): wait for whenNotSaturated()`, { canRetry: true }),
      );
    }
    this.inFlightJobs++;
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
