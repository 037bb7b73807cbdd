import { describe, expect, it } from 'vitest';
import { checkpoint } from '../../test/checkpoint-store-contract.js';
import { checkpointObjectName, parseCheckpointObjectName } from './checkpoint-object-names.js';
import {
  decodeManifest,
  emptyManifest,
  encodeManifest,
  listsCheckpoint,
  manifestTrimOffset,
  withCheckpoint,
  withClaim,
  type CheckpointManifest,
} from './checkpoint-manifest.js';
import { parseNatsCheckpointConfig } from './nats-checkpoint-config.js';

/** The manifest after claiming partition 5 at epoch 2 and committing checkpoints `ids` (fullEvery 4) with keep 3. */
function committed(ids: number[], keep = 3): { manifest: CheckpointManifest; dropped: number[][] } {
  let manifest = withClaim(withClaim(emptyManifest(5), 'a'), 'b');
  const dropped: number[][] = [];
  for (const id of ids) {
    const c = checkpoint(id);
    const next = withCheckpoint(manifest, c, checkpointObjectName(5, manifest.epoch, c), keep);
    manifest = next.manifest;
    dropped.push(next.dropped.map((d) => d.id));
  }
  return { manifest, dropped };
}

describe('checkpoint manifest', () => {
  it('keeps what LocalCheckpointStore keeps, newest first, and says what retention dropped', () => {
    const { manifest, dropped } = committed([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    expect(manifest.checkpoints.map((c) => c.id)).toEqual([13, 12, 11, 10, 9]);
    // Fulls at 1, 5, 9, 13: retention drops a whole chain once two fulls are among the kept (see the contract suite).
    expect(dropped).toEqual([[], [], [], [], [], [], [], [], [4, 3, 2, 1], [], [], [], [8, 7, 6, 5]]);
    expect(manifest.checkpoints[0]).toEqual({ id: 13, kind: 'full', base: 0, offset: 1300, object: 'p5/e2/0000000000000013.full' });
    expect(manifest.checkpoints[1]!.object).toBe('p5/e2/0000000000000012.delta-0000000000000011');
  });

  it('gives the trim offset from the offsets it carries, undefined while fewer than keep are kept', async () => {
    const trims: (number | undefined)[] = [];
    for (let n = 1; n <= 11; n++) trims.push(await manifestTrimOffset(committed(Array.from({ length: n }, (_, i) => i + 1)).manifest, 3));
    expect(trims).toEqual([undefined, undefined, 100, 100, 100, 100, 100, 100, 500, 500, 500]);
  });

  it('a claim raises the epoch and names the owner, and keeps the checkpoints', () => {
    const { manifest } = committed([1, 2]);
    const claimed = withClaim(manifest, 'host:42:abc');
    expect(claimed).toEqual({ ...manifest, epoch: 3, owner: 'host:42:abc' });
  });

  it('a checkpoint of an id already listed replaces it, and drops the old blob if its name differs', () => {
    const { manifest } = committed([1, 2]);
    const again = withCheckpoint(withClaim(manifest, 'c'), { ...checkpoint(2), offset: 250 }, 'p5/e3/0000000000000002.delta-0000000000000001', 3);
    expect(again.manifest.checkpoints.map((c) => [c.id, c.offset])).toEqual([[2, 250], [1, 100]]);
    expect(again.dropped.map((c) => c.object)).toEqual(['p5/e2/0000000000000002.delta-0000000000000001']);
  });

  it('tells a committed checkpoint by id, offset and object', () => {
    const { manifest } = committed([1, 2]);
    expect(listsCheckpoint(manifest, checkpoint(2), 'p5/e2/0000000000000002.delta-0000000000000001')).toBe(true);
    expect(listsCheckpoint(manifest, checkpoint(2), 'p5/e3/0000000000000002.delta-0000000000000001')).toBe(false);
    expect(listsCheckpoint(manifest, { ...checkpoint(2), offset: 1 }, 'p5/e2/0000000000000002.delta-0000000000000001')).toBe(false);
  });

  it('round-trips through its JSON bytes', () => {
    const { manifest } = committed([1, 2, 3]);
    expect(decodeManifest(encodeManifest(manifest), 5, 'M/p5')).toEqual(manifest);
    expect(JSON.parse(new TextDecoder().decode(encodeManifest(manifest)))).toMatchObject({ format: 1, partition: 5, epoch: 2, owner: 'b' });
  });

  it.each([
    ['bytes that are not JSON', new TextEncoder().encode('{nope'), /M\/p5: manifest is not JSON/],
    ['another format', encodeManifest({ ...emptyManifest(5), format: 2 as 1 }), /format: .*expected 1/i],
    ['another partition', encodeManifest(emptyManifest(6)), /manifest of partition 6, expected 5/],
    ['a delta without a base', encodeManifest({ ...emptyManifest(5), checkpoints: [{ id: 2, kind: 'delta', base: 0, offset: 1, object: 'x' }] }), /checkpoints\.0: a full checkpoint has base 0/],
    ['an unknown key', new TextEncoder().encode(JSON.stringify({ ...emptyManifest(5), extra: 1 })), /extra/],
  ])('refuses %s as corrupt', (_name, bytes, message) => {
    expect(() => decodeManifest(bytes, 5, 'M/p5')).toThrow(expect.objectContaining({ code: 'SLUICE_CHECKPOINT_CORRUPT', message: expect.stringMatching(message) }));
  });
});

describe('checkpoint object names', () => {
  it('carry partition, epoch, id and base, and parse back', () => {
    const full = checkpointObjectName(12, 7, { id: 9, kind: 'full', base: 0 });
    const delta = checkpointObjectName(12, 7, { id: 10, kind: 'delta', base: 9 });
    expect([full, delta]).toEqual(['p12/e7/0000000000000009.full', 'p12/e7/0000000000000010.delta-0000000000000009']);
    expect(parseCheckpointObjectName(full)).toEqual({ partition: 12, epoch: 7, id: 9, kind: 'full', base: 0 });
    expect(parseCheckpointObjectName(delta)).toEqual({ partition: 12, epoch: 7, id: 10, kind: 'delta', base: 9 });
    expect(parseCheckpointObjectName('p12/0000000000000009.full')).toBeUndefined();
    expect(parseCheckpointObjectName('notes.txt')).toBeUndefined();
  });
});

describe('checkpoint.nats config', () => {
  it('has defaults', () => {
    expect(parseNatsCheckpointConfig(undefined)).toEqual({ bucket: 'SLUICE_CHECKPOINTS', manifestBucket: 'SLUICE_MANIFESTS', replicas: 1 });
  });

  it('names the path, the value and what was expected; unknown keys are errors', () => {
    expect(() => parseNatsCheckpointConfig({ replicas: 2 })).toThrow(/checkpoint\.nats\.replicas: expected 1 \(single server\) or 3 .* \(got 2\)/);
    expect(() => parseNatsCheckpointConfig({ bucket: 'a.b' })).toThrow(/checkpoint\.nats\.bucket: use letters, digits, - and _ only .* \(got "a\.b"\)/);
    expect(() => parseNatsCheckpointConfig({ bukket: 'X' })).toThrow(expect.objectContaining({ code: 'SLUICE_CONFIG_INVALID', message: expect.stringMatching(/bukket/) }));
  });
});
