/**
 * Which NATS failures mean "not now": a stream (or KV/object bucket) electing a new leader
 * after its leader died answers with a timeout, no responders or a 503 for 4-8 s
 * (measured, see DESIGN.md). Shared by everything that talks to JetStream (checkpoint
 * store, cluster membership and leases), so they agree on what to ride out.
 */
import { JetStreamApiError, JetStreamError } from '@nats-io/jetstream';
import { ConnectionError, NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';

/** Whether `err` (or its cause) is NATS saying "not now": the same request may succeed once the cluster has a leader. */
export function isTransientNatsError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof TimeoutError || e instanceof NoRespondersError || e instanceof RequestError || e instanceof ConnectionError) return true;
    // 503: "JetStream system temporarily unavailable", the answer while a stream has no leader.
    if (e instanceof JetStreamApiError && e.status === 503) return true;
    if (e instanceof JetStreamError && /timeout|no responders|503|temporarily unavailable/i.test(e.message)) return true;
  }
  return false;
}
