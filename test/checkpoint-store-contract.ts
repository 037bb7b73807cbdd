/**
 * What every CheckpointStore must do, as one suite run against each implementation
 * (LocalCheckpointStore in processors/checkpoint/checkpoint-store.test.ts,
 * NatsCheckpointStore in test/nats-checkpoint-store.test.ts): full and delta chains,
 * retention of `keep` restorable checkpoints and what they depend on, fallback past a
 * corrupt or missing checkpoint, and the trim offset. Storage-specific cases (file names,
 * format 1 files, temp files, manifests, fencing) stay with each store's own tests.
 */
import { describe, expect, it } from 'vitest';
import type { CheckpointProblem, CheckpointStore, PartitionCheckpoint } from '../processors/checkpoint/index.js';

/** A store as the suite uses it: the interface and its problems list. */
export type ContractStore = CheckpointStore & { readonly problems: readonly CheckpointProblem[] };

/** One test's storage (a temp dir, fresh buckets) and ways to reach past the store into it. */
export interface CheckpointStoreFixture {
  /** A new store instance over this storage (for NATS: its own connection, claiming partitions 5 and 6). */
  open(keep?: number): Promise<ContractStore>;
  /** Ids of partition 5's checkpoints as stored (files or blobs, whatever a manifest says), ascending. */
  storedIds(): Promise<number[]>;
  /** Replaces the stored bytes of partition 5's checkpoint `id` with `damage(bytes)`. */
  damage(id: number, damage: (bytes: Buffer) => Buffer): Promise<void>;
  /** Deletes the stored bytes of partition 5's checkpoint `id`. */
  remove(id: number): Promise<void>;
  /** How a problem names partition 5's checkpoint `id` (its `file`). */
  location(id: number): Promise<string>;
  /** Removes the storage and closes what the fixture opened. */
  destroy(): Promise<void>;
}

/** Checkpoint `id` of partition 5: full every `fullEvery` ids (1, 1 + fullEvery, …), else a delta on id − 1. */
export const checkpoint = (id: number, fullEvery = 4, partition = 5): PartitionCheckpoint => {
  const full = (id - 1) % fullEvery === 0;
  return {
    partition,
    id,
    kind: full ? 'full' : 'delta',
    base: full ? 0 : id - 1,
    offset: id * 100,
    watermark: 1_700_000_000_000 + id,
    state: new Uint8Array(Array.from({ length: full ? 3000 : 300 }, (_, i) => (i * id) & 0xff)),
    createdAtMs: 1_700_000_000_000,
  };
};

/** Runs the contract against the stores `makeFixture` gives; each test gets its own fixture, destroyed even when it fails. */
export function describeCheckpointStoreContract(name: string, makeFixture: () => Promise<CheckpointStoreFixture>): void {
  const withFixture = async (test: (f: CheckpointStoreFixture) => Promise<void>): Promise<void> => {
    const fixture = await makeFixture();
    try {
      await test(fixture);
    } finally {
      await fixture.destroy();
    }
  };

  describe(`${name} (CheckpointStore contract)`, () => {
    it('round-trips full and delta checkpoints; restorable() is the newest full one and its deltas, in order', () =>
      withFixture(async (f) => {
        const store = await f.open(3);
        expect(await store.restorable(5)).toEqual([]);
        for (let id = 1; id <= 7; id++) await store.write(checkpoint(id));
        // 5–7 all rest on full 5, so 4 (and its chain) stays as the fallback should 5 be corrupt.
        expect(await f.storedIds()).toEqual([1, 2, 3, 4, 5, 6, 7]);
        expect(await store.restorable(6)).toEqual([]);
        expect(await (await f.open()).restorable(5)).toEqual([5, 6, 7].map((id) => checkpoint(id)));
      }));

    it('keeps the newest `keep` checkpoints, every checkpoint they depend on, and a fallback before their full, and nothing else', () =>
      withFixture(async (f) => {
        const store = await f.open(3);
        const kept: number[][] = [];
        for (let id = 1; id <= 13; id++) {
          await store.write(checkpoint(id));
          kept.push(await f.storedIds());
        }
        // fulls at 1, 5, 9, 13; deltas between, each on the one before
        expect(kept).toEqual([
          [1],
          [1, 2],
          [1, 2, 3],
          [1, 2, 3, 4], // 4 → 3 → 2 → 1
          [1, 2, 3, 4, 5], // 3 and 4 still need 1 and 2
          [1, 2, 3, 4, 5, 6], // 4 needs 1–3
          [1, 2, 3, 4, 5, 6, 7], // 5, 6, 7 all rest on full 5: 4 (needing 1–3) is the fallback if 5 is corrupt
          [1, 2, 3, 4, 5, 6, 7, 8],
          [5, 6, 7, 8, 9], // 7 and 8 need 5 and 6; two fulls among the kept, so no fallback is needed
          [5, 6, 7, 8, 9, 10],
          [5, 6, 7, 8, 9, 10, 11], // 9–11 rest on 9: 8 (needing 5–7) is the fallback
          [5, 6, 7, 8, 9, 10, 11, 12],
          [9, 10, 11, 12, 13],
        ]);
      }));

    it('trims below the lowest offset any kept checkpoint restores to, once `keep` exist', () =>
      withFixture(async (f) => {
        const store = await f.open(3);
        const trims: (number | undefined)[] = [];
        for (let id = 1; id <= 11; id++) {
          await store.write(checkpoint(id));
          trims.push(await store.trimOffset(5));
        }
        expect(trims).toEqual([undefined, undefined, 100, 100, 100, 100, 100, 100, 500, 500, 500]);
        expect(await store.trimOffset(6)).toBeUndefined();
        expect(await (await f.open(3)).trimOffset(5)).toBe(500); // from what is stored, not from this instance's memory
      }));

    it('with fullEvery 1 keeps the newest three, trimmed below the oldest', () =>
      withFixture(async (f) => {
        const store = await f.open(3);
        for (let id = 1; id <= 5; id++) await store.write(checkpoint(id, 1));
        expect(await f.storedIds()).toEqual([3, 4, 5]);
        expect(await store.trimOffset(5)).toBe(300);
        expect(await store.restorable(5)).toEqual([checkpoint(5, 1)]);
      }));

    it.each([
      ['a flipped byte', (b: Buffer) => flip(b, b.length - 3, 0xff)],
      ['a flipped header byte', (b: Buffer) => flip(b, 6, 0x01)], // the kind
      ['a truncated blob', (b: Buffer) => b.subarray(0, 30)],
      ['an empty blob', () => Buffer.alloc(0)],
    ])('past %s in the newest delta, restores the checkpoint before it, and reports it', (_name, damage) =>
      withFixture(async (f) => {
        const store = await f.open();
        for (let id = 1; id <= 3; id++) await store.write(checkpoint(id));
        await f.damage(3, damage);
        const restored = await f.open();
        expect(await restored.restorable(5)).toEqual([checkpoint(1), checkpoint(2)]);
        expect(restored.problems).toHaveLength(1);
        expect(restored.problems[0]!.error.code).toBe('SLUICE_CHECKPOINT_CORRUPT');
        expect(restored.problems[0]!.file).toBe(await f.location(3));
      }),
    );

    it('ends the chain at a corrupt delta: the deltas after it cannot be applied either', () =>
      withFixture(async (f) => {
        const store = await f.open(10);
        for (let id = 1; id <= 4; id++) await store.write(checkpoint(id));
        await f.damage(2, (b) => b.subarray(0, 100));
        const restored = await f.open(10);
        expect((await restored.restorable(5)).map((c) => c.id)).toEqual([1]);
        expect(restored.problems.map((p) => p.file)).toEqual([await f.location(2)]);
      }));

    it("falls back past a corrupt full checkpoint to the previous full one's chain", () =>
      withFixture(async (f) => {
        const store = await f.open(3);
        // 1 (full) 2 3 4, 5 (full) 6 7 8: the newest three rest on 5 alone, and retention keeps 1–4 for this case.
        for (let id = 1; id <= 8; id++) await store.write(checkpoint(id));
        await f.damage(5, (b) => flip(b, 100, 0x10));
        const restored = await f.open(3);
        expect((await restored.restorable(5)).map((c) => c.id)).toEqual([1, 2, 3, 4]);
        expect(restored.problems.map((p) => p.file)).toEqual([await f.location(5)]); // 6–8 are not restorable, but not corrupt themselves
      }));

    it('ends the chain at a missing checkpoint, like at a corrupt one, and reports it', () =>
      withFixture(async (f) => {
        const store = await f.open(10);
        for (let id = 1; id <= 4; id++) await store.write(checkpoint(id));
        await f.remove(3);
        const restored = await f.open(10);
        expect((await restored.restorable(5)).map((c) => c.id)).toEqual([1, 2]);
        expect(restored.problems.map((p) => p.error.code)).toEqual(['SLUICE_CHECKPOINT_CORRUPT']);
      }));

    it('round-trips a state of several snappy chunks', () =>
      withFixture(async (f) => {
        const store = await f.open();
        const big = { ...checkpoint(1), state: new Uint8Array(3.5 * 2 ** 20).map((_, i) => (i * 7919) % 251) };
        await store.write(big);
        const [back, ...rest] = await store.restorable(5);
        expect(rest).toEqual([]);
        expect({ ...back!, state: undefined }).toEqual({ ...big, state: undefined });
        expect(Buffer.compare(back!.state, big.state)).toBe(0);
      }));
  });
}

/** A copy of `bytes` with `mask` XORed into byte `at`. */
function flip(bytes: Buffer, at: number, mask: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[at]! ^= mask;
  return copy;
}
