import { AuthBusyError } from '../../core/index.js';

/**
 * Runs slow credential checks (scrypt) at most `concurrency` at a time, the rest in a FIFO
 * queue of at most `maxQueued`; past that it refuses at once with AuthBusyError.
 *
 * Why: scrypt runs in libuv's threadpool (4 threads unless UV_THREADPOOL_SIZE says
 * otherwise), the same threads that run the log's fs writes and fsyncs. Unbounded, a
 * CONNECT storm fills every thread and queues the log's fs work behind a growing pile of
 * hashes, so PUBACKs of every device wait. Bounded, at least `poolSize − concurrency`
 * threads stay free for fs work, and a queued check waits at most
 * `maxQueued / concurrency` hashes.
 */
export class VerificationGate {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly maxQueued: number,
  ) {}

  /** Checks running now plus checks waiting. */
  get pending(): number {
    return this.running + this.queue.length;
  }

  /**
   * Runs `check` when a slot is free. `stillWanted` is asked again when the slot comes, so
   * a client that went away while queued costs no hash.
   */
  async run<T>(check: () => Promise<T>, stillWanted: () => boolean = () => true): Promise<T | undefined> {
    if (this.running >= this.concurrency) {
      if (this.queue.length >= this.maxQueued) {
        throw new AuthBusyError(`${this.maxQueued} credential checks are already queued: retry the CONNECT later (auth.verify.maxQueued)`);
      }
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else {
      this.running++;
    }
    // Here this call holds a slot: either taken above or handed over by release().
    try {
      return stillWanted() ? await check() : undefined;
    } finally {
      this.release();
    }
  }

  /** Hands the slot to the next queued check, or frees it. */
  private release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.running--;
  }
}
