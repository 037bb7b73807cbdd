/** Riding out NATS's transient failures (no connection, a leader election) while the cluster component opens its buckets. */
import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff } from '../core/index.js';
import { isTransientNatsError } from '../log/index.js';
import { ClusterUnavailableError } from './errors.js';

/** Runs `attempt` until it resolves, retrying transient NATS failures with backoff for `timeoutMs`, then ClusterUnavailableError; other errors pass at once. */
export async function retryUntil<T>(what: string, timeoutMs: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const backoff = new Backoff(100, 1000);
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (!isTransientNatsError(err)) throw err;
      if (Date.now() >= deadline) throw new ClusterUnavailableError(`${what}: NATS did not answer for ${timeoutMs} ms (${(err as Error).message})`, { cause: err });
      await sleep(backoff.next());
    }
  }
}
