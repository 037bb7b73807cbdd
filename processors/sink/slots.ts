/**
 * A counting semaphore: at most `size` holders at once, waiters served in arrival order.
 * One abort listener for all waiters: a listener per waiter would pile up on the writer's
 * long-lived signal when many batches queue at once.
 */
export class Slots {
  private free: number;
  private readonly waiters: { grant: () => void; refuse: (reason: unknown) => void }[] = [];

  constructor(
    size: number,
    private readonly signal: AbortSignal,
  ) {
    this.free = size;
    signal.addEventListener('abort', () => {
      for (const waiter of this.waiters.splice(0)) waiter.refuse(signal.reason);
    }, { once: true });
  }

  /** Resolves with a release function once a slot is free; rejects once the signal aborts. */
  async acquire(): Promise<() => void> {
    this.signal.throwIfAborted();
    if (this.free > 0) this.free--;
    else await new Promise<void>((grant, refuse) => this.waiters.push({ grant, refuse }));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // Hand the slot straight to the next waiter so a newcomer cannot overtake it.
      const next = this.waiters.shift();
      if (next) next.grant();
      else this.free++;
    };
  }
}
