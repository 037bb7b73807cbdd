/**
 * Runs async jobs one at a time, in call order: what keeps a ProcessorNode's loop turns,
 * checkpoints, assigns and revokes from interleaving at their awaits. Not re-entrant: a
 * job that runs another through the same Serial waits for itself.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `job` once every job queued before it has settled; resolves or rejects as it does. */
  run<T>(job: () => Promise<T> | T): Promise<T> {
    const result = this.tail.then(() => job());
    // A failed job must not stop the ones queued after it; its caller gets the rejection.
    this.tail = result.catch(() => undefined);
    return result;
  }
}
