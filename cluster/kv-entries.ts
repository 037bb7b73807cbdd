/**
 * A KV bucket's current entries without a consumer. `kv.keys()` (and watch, history)
 * creates an ordered consumer, an R1 ephemeral that nats-server 2.9.10 places on any peer
 * of the stream, a SIGKILLed one too, until its orphan sweep marks it offline 150 s+
 * later (2.9.12, e15eb22ca, skips offline peers). A create placed there is never answered
 * and times out after 5 s: for minutes after one NATS server of three dies, a third of
 * the creates fail. Stream info with a subjects filter and a get per key ask the stream's
 * leader (and, for direct gets, any live replica) instead. Batch direct get
 * (`getLastMessagesFor`) would be one request, but it needs server 2.11.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV, KvEntry } from '@nats-io/kv';

/** The subjects of bucket `bucket`'s keys (one stream info request), or undefined when the bucket does not exist. */
export async function bucketSubjects(jsm: JetStreamManager, bucket: string): Promise<string[] | undefined> {
  const info = await jsm.streams.info(`KV_${bucket}`, { subjects_filter: `${subjectPrefix(bucket)}>` }).catch((err: unknown) => {
    if (/stream not found/i.test((err as Error).message)) return undefined;
    throw err;
  });
  // No subjects at all leaves `subjects` out of the answer.
  return info === undefined ? undefined : Object.keys(info.state.subjects ?? {});
}

/** Every key's current value in `kv` (bucket `bucket`) given its `subjects` (see bucketSubjects); deleted and purged keys left out, as kv.keys() does. */
export async function currentEntries(kv: KV, bucket: string, subjects: readonly string[]): Promise<KvEntry[]> {
  const prefix = subjectPrefix(bucket);
  const keys = subjects.filter((s) => s.startsWith(prefix)).map((s) => s.slice(prefix.length));
  // A subject whose last message is a delete or purge marker still counts in stream info; the get shows the marker.
  const found = await Promise.all(keys.map((k) => kv.get(k)));
  return found.filter((e): e is KvEntry => e !== null && e.operation === 'PUT');
}

function subjectPrefix(bucket: string): string {
  return `$KV.${bucket}.`;
}
