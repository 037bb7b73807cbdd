import type { Log, LogRecord } from '../../log/index.js';

/**
 * A real log behind a gate: while closed, appends wait before reaching the log. Lets a
 * test prove that nothing is acknowledged before the log append has resolved.
 */
export class GatedLog implements Log {
  private gate: Promise<void> = Promise.resolve();
  private openGate: (() => void) | undefined;
  appendsWaiting = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly inner: Log) {}

  get partitions(): number {
    return this.inner.partitions;
  }

  /** Holds every append from now on until `open()`. */
  hold(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  /** Lets held appends through. */
  open(): void {
    this.openGate?.();
  }

  /** Resolves once at least `n` appends are waiting at the gate. */
  async waitForWaiting(n: number): Promise<void> {
    while (this.appendsWaiting < n) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  async append(partition: number, payload: Uint8Array): Promise<number> {
    this.appendsWaiting++;
    for (const w of this.waiters.splice(0)) w();
    await this.gate;
    this.appendsWaiting--;
    return this.inner.append(partition, payload);
  }

  read(partition: number, fromOffset: number, maxRecords?: number): Promise<LogRecord[]> {
    return this.inner.read(partition, fromOffset, maxRecords);
  }
  trim(partition: number, upToOffset: number): Promise<void> {
    return this.inner.trim(partition, upToOffset);
  }
  startOffset(partition: number): Promise<number> {
    return this.inner.startOffset(partition);
  }
  pending(partition: number, fromOffset: number): Promise<number> {
    return this.inner.pending(partition, fromOffset);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
