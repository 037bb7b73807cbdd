/** Callback aedes gave us for one publish: calling it lets aedes send the PUBACK. */
export type PublishDone = (err?: Error | null) => void;

/**
 * Releases micro-batches' acknowledgements strictly in the order the batches were cut,
 * whatever order their decode and append finish in, so that PUBACKs leave in the order
 * the PUBLISHes arrived ([MQTT-4.6.0-2]).
 */
export class AckQueue {
  private tail: Promise<void> = Promise.resolve();

  /** Runs `release` after every earlier batch's release, once `durable` settles. */
  enqueue(durable: Promise<void>, release: (err?: Error) => void): void {
    const settled = durable.then(
      () => undefined,
      (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
    );
    this.tail = this.tail.then(async () => release(await settled));
  }

  /** Resolves when every batch enqueued so far has been released. */
  drained(): Promise<void> {
    return this.tail;
  }
}
