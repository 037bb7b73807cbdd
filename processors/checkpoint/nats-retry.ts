/**
 * Retrying the NATS store's requests through what a cluster does for a few seconds at a
 * time: a stream (KV or object bucket) electing a new leader after its leader died
 * answers with a timeout, no responders or a 503 for 4-8 s (measured, see DESIGN.md).
 * The store retries those until its deadline, so a checkpoint survives a server crash;
 * anything else (a refused CAS, a bad request) goes to the caller at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff } from '../../core/index.js';
import { isTransientNatsError } from '../../log/index.js';
import { CheckpointStoreUnavailableError } from '../errors.js';

export { isTransientNatsError };

/**
 * Runs `attempt` until it resolves; a transient failure is retried with backoff until
 * `timeoutMs` have passed, then it becomes a CheckpointStoreUnavailableError (canRetry).
 * `attempt` must be safe to repeat: a request that timed out may still have been applied.
 */
export async function retryTransient<T>(what: string, timeoutMs: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const backoff = new Backoff(100, 1000);
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (!isTransientNatsError(err)) throw err;
      if (Date.now() >= deadline) {
        throw new CheckpointStoreUnavailableError(`${what}: NATS did not answer for ${timeoutMs} ms (${(err as Error).message}); the cluster may have no leader for the bucket`, { cause: err });
      }
      await sleep(backoff.next());
    }
  }
}
