/**
 * A KV watch that stays open: the library's ordered consumer re-creates itself only after
 * two missed idle heartbeats (10 s), and a watch whose consumer lived on a killed server
 * delivers nothing meanwhile. Owners call `restart()` when they notice the watch lagging
 * (their own write did not come back); an iterator that ends is reopened with backoff.
 * Each (re)open delivers every key's current value again, so state converges either way.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/nats-core';
import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff } from '../core/index.js';
import { lastRevision } from './buckets.js';

export class KvWatcher {
  private iterator: QueuedIterator<KvEntry> | undefined;
  private stopped = false;
  private restartRequested = false;
  private loop: Promise<void> | undefined;
  /** Watches opened so far (1 after start), for tests and logs. */
  opens = 0;

  constructor(
    private readonly kv: KV,
    private readonly onEntry: (entry: KvEntry) => void,
    private readonly onProblem: (err: unknown) => void = () => undefined,
  ) {}

  /** Opens the watch; resolves once the bucket's current state has been delivered (or after `timeoutMs`, whichever first). */
  async start(timeoutMs = 5000): Promise<void> {
    const last = await lastRevision(this.kv);
    let seen = 0;
    let caughtUp: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (caughtUp = resolve));
    if (last === 0) caughtUp();
    this.iterator = await this.open();
    this.loop = this.run((entry) => {
      seen = Math.max(seen, entry.revision);
      if (seen >= last) caughtUp();
    });
    const timer = setTimeout(caughtUp, timeoutMs);
    await ready;
    clearTimeout(timer);
  }

  /** Closes the current watch and opens a new one at once (the loop reopens it). */
  restart(): void {
    this.restartRequested = true;
    this.iterator?.stop();
  }

  /** Closes the watch for good. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.iterator?.stop();
    await this.loop;
  }

  private async open(): Promise<QueuedIterator<KvEntry>> {
    this.opens++;
    return this.kv.watch();
  }

  private async run(first: (entry: KvEntry) => void): Promise<void> {
    const backoff = new Backoff(100, 2000);
    let onFirstOpen: ((entry: KvEntry) => void) | undefined = first;
    while (!this.stopped) {
      try {
        this.iterator ??= await this.open();
        for await (const entry of this.iterator) {
          onFirstOpen?.(entry);
          this.onEntry(entry);
        }
        // Ended without our asking (the library gave the consumer up): pause before reopening.
        if (!this.restartRequested && !this.stopped) await sleep(backoff.next());
        else backoff.reset();
      } catch (err) {
        if (this.stopped) break;
        this.onProblem(err);
        await sleep(backoff.next());
      }
      onFirstOpen = undefined;
      this.iterator = undefined;
      this.restartRequested = false;
    }
  }
}
