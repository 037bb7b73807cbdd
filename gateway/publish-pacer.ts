/** One held publish: when it may go, and what sends it on. */
interface Paced {
  due: number;
  run: () => void;
}

/**
 * Lets one session's rate-limited publishes go at their due times, strictly in the order
 * they arrived. One timer per session, not one per publish: timers of different delays
 * can fire out of order when the event loop runs late, and the log must receive each
 * device's messages in arrival order (its seq de-duplication and event time rely on it).
 */
export class PublishPacer {
  private queue: (Paced | undefined)[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  /** Publishes waiting. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  /** Runs `run` once `delayMs` have passed and every publish scheduled before it has run. */
  schedule(delayMs: number, run: () => void, now = performance.now()): void {
    if (delayMs <= 0 && this.waiting === 0) return run();
    this.queue.push({ due: now + delayMs, run });
    this.arm(now);
  }

  private arm(now: number): void {
    if (this.timer !== undefined || this.waiting === 0) return;
    const wait = Math.max(0, this.queue[this.head]!.due - now);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.drain();
    }, wait);
  }

  private drain(): void {
    // Timers may fire a fraction of a millisecond before performance.now() reaches `due`.
    const now = performance.now() + 1;
    while (this.waiting > 0 && this.queue[this.head]!.due <= now) {
      const next = this.queue[this.head]!;
      this.queue[this.head++] = undefined;
      next.run();
    }
    if (this.waiting === 0) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.arm(performance.now());
  }
}
