import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCheckpoint } from '../processors/checkpoint/checkpoint-file.js';
import { decodeManifest, NatsCheckpointStore, type NatsCheckpointConfig } from '../processors/checkpoint/index.js';
import { checkpoint, describeCheckpointStoreContract } from './checkpoint-store-contract.js';
import { startNatsCluster, startNatsServer, type TestNats } from './harness/nats-server.js';

/** Unique buckets per test, so tests share a server without seeing each other. */
function uniqueBuckets(): Pick<NatsCheckpointConfig, 'bucket' | 'manifestBucket'> {
  const id = randomUUID().replaceAll('-', '').slice(0, 12);
  return { bucket: `CK_${id}`, manifestBucket: `MF_${id}` };
}

/**
 * One test's buckets on `nats`, and an admin connection that reaches past the store:
 * it reads manifests and blobs, damages and deletes blobs. `destroy()` deletes both
 * buckets and closes every connection the test opened.
 */
async function bucketsOn(nats: TestNats, replicas: 1 | 3 = 1) {
  const config = { ...uniqueBuckets(), replicas };
  const connections: NatsConnection[] = [];
  const connectNew = async (): Promise<NatsConnection> => {
    const nc = await connect({ servers: nats.servers, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    connections.push(nc);
    return nc;
  };
  const admin = await connectNew();
  const js = jetstream(admin);
  let objectStore: ObjectStore | undefined;
  const objects = async (): Promise<ObjectStore> => (objectStore ??= await new Objm(js).open(config.bucket));
  const objectNames = async (partition: number): Promise<string[]> => (await (await objects()).list()).map((i) => i.name).filter((n) => n.startsWith(`p${partition}/`)).sort();
  return {
    config,
    connectNew,
    /** A store on its own new connection, claiming `partitions`. */
    open: async (keep: number | undefined, partitions: number[]) => NatsCheckpointStore.open({ connection: await connectNew(), config, keep, partitions }),
    objects,
    objectNames,
    /** The object name of checkpoint `id` of `partition` (whatever epoch wrote it). */
    objectOf: async (id: number, partition = 5): Promise<string> => {
      const found = (await objectNames(partition)).filter((n) => n.endsWith(String(id).padStart(16, '0') + '.full') || n.includes(`/${String(id).padStart(16, '0')}.delta-`));
      if (found.length !== 1) throw new Error(`expected one object of checkpoint ${id} of partition ${partition}, found ${JSON.stringify(found)}`);
      return found[0]!;
    },
    /** The manifest KV entry of `partition` as stored: its raw bytes, revision and decoded value. */
    manifest: async (partition: number) => {
      const kv = await new Kvm(js).open(config.manifestBucket);
      const entry = await kv.get(`p${partition}`);
      if (!entry) throw new Error(`no manifest of partition ${partition}`);
      return { bytes: Buffer.from(entry.value), revision: entry.revision, value: decodeManifest(entry.value, partition, 'test') };
    },
    destroy: async () => {
      const jsm = await jetstreamManager(admin);
      await Promise.allSettled([jsm.streams.delete(`OBJ_${config.bucket}`), jsm.streams.delete(`KV_${config.manifestBucket}`)]);
      await Promise.allSettled(connections.map((nc) => nc.close()));
    },
  };
}

let single: TestNats;
beforeAll(async () => {
  single = await startNatsServer();
}, 60_000);
afterAll(async () => {
  await single?.destroy();
});

describeCheckpointStoreContract('NatsCheckpointStore, single node', async () => {
  const b = await bucketsOn(single);
  return {
    open: (keep) => b.open(keep, [5, 6]),
    storedIds: async () => {
      const blobs = (await b.objectNames(5)).map((n) => Number(n.split('/')[2]!.slice(0, 16)));
      // The manifest is the commit point: blobs and manifest must agree, or a blob leaked or a commit points nowhere.
      const listed = (await b.manifest(5)).value.checkpoints.map((c) => c.id).sort((x, y) => x - y);
      expect(blobs).toEqual(listed);
      return listed;
    },
    damage: async (id, damage) => {
      const name = await b.objectOf(id);
      const store = await b.objects();
      const bytes = await store.getBlob(name);
      await store.putBlob({ name }, damage(Buffer.from(bytes!)));
    },
    remove: async (id) => {
      await (await b.objects()).delete(await b.objectOf(id));
    },
    location: async (id) => `${b.config.bucket}/${await b.objectOf(id)}`,
    destroy: b.destroy,
  };
});

describe('NatsCheckpointStore, single node', () => {
  it('survives a reopen on a new connection; blobs are byte-identical to local checkpoint files; the manifest lists chain, offsets and epoch', async () => {
    const b = await bucketsOn(single);
    try {
      const nc = await b.connectNew();
      const first = await NatsCheckpointStore.open({ connection: nc, config: b.config, partitions: [5], owner: 'first' });
      for (let id = 1; id <= 6; id++) await first.write(checkpoint(id));
      await nc.close();

      const second = await b.open(3, [5]);
      expect(await second.restorable(5)).toEqual([5, 6].map((id) => checkpoint(id)));
      expect(second.problems).toEqual([]);
      const blob = await (await b.objects()).getBlob(await b.objectOf(6));
      expect(Buffer.compare(Buffer.from(blob!), await encodeCheckpoint(checkpoint(6)))).toBe(0);
      const { value } = await b.manifest(5);
      expect(value).toMatchObject({ format: 1, partition: 5, epoch: 2, owner: second.owner });
      expect(value.checkpoints).toEqual(
        [6, 5, 4, 3, 2, 1].map((id) => ({ ...(({ id, kind, base, offset }) => ({ id, kind, base, offset }))(checkpoint(id)), object: expect.stringMatching(new RegExp(`^p5/e1/${String(id).padStart(16, '0')}\\.`)) })),
      );
    } finally {
      await b.destroy();
    }
  });

  it('fences a stale owner: its write and trimOffset reject, the manifest is unchanged, its blob is gone; the new owner writes', async () => {
    const b = await bucketsOn(single);
    try {
      const a = await b.open(3, [3]);
      for (let id = 1; id <= 3; id++) await a.write(checkpoint(id, 4, 3));
      expect(await a.trimOffset(3)).toBe(100);
      const bStore = await b.open(3, [3]);
      expect([a.epochOf(3), bStore.epochOf(3)]).toEqual([1, 2]);
      const before = await b.manifest(3);

      const fenced = { code: 'SLUICE_CHECKPOINT_FENCED', partition: 3, ourEpoch: 1, storedEpoch: 2 };
      const refusal = await a.write(checkpoint(4, 4, 3)).catch((err: unknown) => err);
      expect(refusal).toMatchObject(fenced);
      expect((refusal as Error).message).toBe(
        `partition 3: checkpoint refused, our epoch 1 but the manifest holds epoch 2 (claimed by ${bStore.owner}); another processor owns this partition now: stop processing it`,
      );
      await expect(a.trimOffset(3)).rejects.toMatchObject(fenced);
      const after = await b.manifest(3);
      expect(after.revision).toBe(before.revision);
      expect(Buffer.compare(after.bytes, before.bytes)).toBe(0);
      expect(await b.objectNames(3)).toEqual(before.value.checkpoints.map((c) => c.object).sort()); // A's blob of 4 deleted

      expect((await bStore.restorable(3)).map((c) => c.id)).toEqual([1, 2, 3]);
      await bStore.write(checkpoint(4, 4, 3));
      expect((await b.manifest(3)).value.checkpoints.map((c) => c.id)).toEqual([4, 3, 2, 1]);
      expect(await bStore.trimOffset(3)).toBe(100); // 4 → 3 → 2 → 1: the kept chain still needs 1
      await expect(a.write(checkpoint(5, 4, 3))).rejects.toMatchObject(fenced); // still fenced, whatever B wrote since
    } finally {
      await b.destroy();
    }
  });

  it('refuses to write or trim a partition it has not claimed', async () => {
    const b = await bucketsOn(single);
    try {
      const store = await b.open(3, [5]);
      await expect(store.write(checkpoint(1, 4, 7))).rejects.toMatchObject({ code: 'SLUICE_CHECKPOINT_NOT_CLAIMED', message: /partition 7: not claimed .* claim\(7\)/ });
      await expect(store.trimOffset(7)).rejects.toMatchObject({ code: 'SLUICE_CHECKPOINT_NOT_CLAIMED' });
      expect(await store.restorable(7)).toEqual([]); // reading needs no claim
    } finally {
      await b.destroy();
    }
  });

  it('a claim deletes blobs of earlier epochs that no manifest lists, and leaves a newer epoch alone', async () => {
    const b = await bucketsOn(single);
    try {
      const store = await b.open(3, [5]);
      await store.write(checkpoint(1));
      const objects = await b.objects();
      // A crash between blob and manifest, at this epoch; and a blob of a later owner whose commit is in flight.
      await objects.putBlob({ name: 'p5/e1/0000000000000002.delta-0000000000000001' }, new Uint8Array([1]));
      await objects.putBlob({ name: 'p5/e9/0000000000000002.delta-0000000000000001' }, new Uint8Array([2]));
      await objects.putBlob({ name: 'p6/e1/0000000000000002.full' }, new Uint8Array([3]));
      await b.open(3, [5]);
      expect(await b.objectNames(5)).toEqual(['p5/e1/0000000000000001.full', 'p5/e9/0000000000000002.delta-0000000000000001']);
      expect(await b.objectNames(6)).toEqual(['p6/e1/0000000000000002.full']); // another partition's: not this claim's business
    } finally {
      await b.destroy();
    }
  });

  it('refuses existing buckets of another replica count, naming the key', async () => {
    const b = await bucketsOn(single);
    try {
      await b.open(3, []);
      await expect(NatsCheckpointStore.open({ connection: await b.connectNew(), config: { ...b.config, replicas: 3 } })).rejects.toMatchObject({
        code: 'SLUICE_CONFIG_INVALID',
        message: expect.stringMatching(/checkpoint\.nats\.replicas: .* exists with 1 replicas \(got 3\)/),
      });
    } finally {
      await b.destroy();
    }
  });
});

describe('NatsCheckpointStore, 3-node cluster, R3', () => {
  let cluster: TestNats;
  beforeAll(async () => {
    cluster = await startNatsCluster();
  }, 90_000);
  afterAll(async () => {
    await cluster?.destroy();
  });

  it('keeps committing when a server dies between two writes, once the buckets have leaders again', async () => {
    const b = await bucketsOn(cluster, 3);
    try {
      const store = await b.open(3, [5]);
      await store.write(checkpoint(1));
      await store.write(checkpoint(2));
      // Kill the manifest bucket's leader: the next commit must ride out its election.
      const jsm = await jetstreamManager(await b.connectNew());
      const leader = (await jsm.streams.info(`KV_${b.config.manifestBucket}`)).cluster!.leader!;
      const victim = cluster.nodes.findIndex((n) => n.name === leader);
      expect(victim).toBeGreaterThanOrEqual(0);
      await cluster.kill(victim);
      await store.write(checkpoint(3));
      await store.write(checkpoint(4));
      expect(await store.trimOffset(5)).toBe(100);
      const reopened = await b.open(3, [5]);
      expect(await reopened.restorable(5)).toEqual([1, 2, 3, 4].map((id) => checkpoint(id)));
      expect((await b.manifest(5)).value.checkpoints.map((c) => c.id)).toEqual([4, 3, 2, 1]);
    } finally {
      await b.destroy();
    }
  }, 120_000);
});
