import { Backoff, type Logger } from '../../core/index.js';
import { alertBody } from './alert-message.js';
import type { AlertTransition } from './rule.js';

export interface AlertWebhookOptions {
  url: string;
  timeoutMs: number;
  maxRetryDelayMs: number;
  maxQueued: number;
  logger: Logger;
  /** Counts outcomes: sent (2xx), retried (a failure that will be retried), refused (a 4xx: not retried), dropped (queue full). */
  count: (outcome: 'sent' | 'retried' | 'refused' | 'dropped') => void;
}

/**
 * POSTs alert transitions to a webhook as JSON, one request at a time and in order, each
 * with an `Idempotency-Key` header (the transition's stable id) so a receiver can drop
 * the repeats that retries and replays after a crash bring: at least once. A failure
 * (network, timeout, 5xx, 408, 429) is retried with backoff; any other 4xx is the
 * receiver refusing that transition: logged, counted, not retried. While it is down,
 * transitions wait in a bounded queue; past `maxQueued` the oldest are dropped and
 * counted (every transition is in InfluxDB either way).
 */
export class AlertWebhook {
  private readonly queue: AlertTransition[] = [];
  private sending = false;
  private closed = false;
  private readonly backoff: Backoff;
  private wake: (() => void) | undefined;

  constructor(private readonly o: AlertWebhookOptions) {
    this.backoff = new Backoff(100, o.maxRetryDelayMs);
  }

  /** Queues one transition; sending goes on in the background. */
  send(t: AlertTransition): void {
    if (this.closed) return;
    if (this.queue.length >= this.o.maxQueued) {
      this.queue.shift();
      this.o.count('dropped');
    }
    this.queue.push(t);
    if (!this.sending) void this.drain();
  }

  /** Stops sending; what is queued is given up (a replay after a restart sends it again). */
  close(): void {
    this.closed = true;
    this.wake?.();
  }

  private async drain(): Promise<void> {
    this.sending = true;
    while (!this.closed && this.queue.length > 0) {
      const t = this.queue[0]!;
      const outcome = await this.post(t);
      if (outcome === 'retry') {
        this.o.count('retried');
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, this.backoff.next()).unref();
        });
        continue;
      }
      this.backoff.reset();
      if (this.queue[0] === t) this.queue.shift();
      this.o.count(outcome);
    }
    this.sending = false;
  }

  private async post(t: AlertTransition): Promise<'sent' | 'refused' | 'retry'> {
    try {
      const res = await fetch(this.o.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': t.id },
        body: JSON.stringify(alertBody(t)),
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
      await res.body?.cancel();
      if (res.ok) return 'sent';
      if (res.status >= 500 || res.status === 408 || res.status === 429) {
        if (this.backoff.attempts === 0) this.o.logger.warn({ status: res.status, url: this.o.url }, `the alert webhook answered ${res.status}; retrying with backoff`);
        return 'retry';
      }
      this.o.logger.error({ status: res.status, url: this.o.url, alert: t.id }, `the alert webhook refused alert ${t.id} with ${res.status}; it is not sent again (it is in InfluxDB)`);
      return 'refused';
    } catch (err) {
      if (this.backoff.attempts === 0) this.o.logger.warn({ err: (err as Error).message, url: this.o.url }, `the alert webhook did not answer (${(err as Error).message}); retrying with backoff`);
      return 'retry';
    }
  }
}
