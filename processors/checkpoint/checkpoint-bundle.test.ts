import { describe, expect, it } from 'vitest';
import { BUNDLE_TRAILER_BYTES, decodeBundleIndex, encodeBundleIndex } from './checkpoint-bundle.js';

const sections = [
  { partition: 3, kind: 'full' as const, base: 0, offset: 120, position: 0, length: 500 },
  { partition: 9, kind: 'delta' as const, base: 41, offset: 7, position: 500, length: 80 },
];
/** A bundle's tail as a reader fetches it, for a file of `fileBytes` bytes. */
const tail = (): Buffer => encodeBundleIndex(42, sections);
const fileBytes = 580 + 2 * 40 + BUNDLE_TRAILER_BYTES;

describe('checkpoint bundle index', () => {
  it('round-trips each section with the bundle id', () => {
    expect(decodeBundleIndex(tail(), fileBytes, 'b')).toEqual(sections.map((s) => ({ ...s, id: 42 })));
  });

  it('refuses a flipped byte in the index or trailer', () => {
    for (const at of [5, 40 + 17, 2 * 40 + 3]) {
      const damaged = tail();
      damaged[at]! ^= 0x20;
      expect(() => decodeBundleIndex(damaged, fileBytes, 'b'), `byte ${at}`).toThrow(/SLUICE_CHECKPOINT_CORRUPT|checksum|does not end|not valid/);
    }
  });

  it('refuses an index that does not end where the file does (a bundle cut short or grown)', () => {
    expect(() => decodeBundleIndex(tail(), fileBytes + 1, 'b')).toThrow(/does not end where the file does/);
  });

  it('refuses a file that is not a bundle, and names a format it does not read', () => {
    expect(() => decodeBundleIndex(Buffer.alloc(BUNDLE_TRAILER_BYTES), BUNDLE_TRAILER_BYTES, 'b')).toThrow(/not a checkpoint bundle/);
    const newer = tail();
    newer.writeUInt16LE(2, newer.length - 8);
    expect(() => decodeBundleIndex(newer, fileBytes, 'b')).toThrow(/bundle format 2, but this version reads only format 1/);
  });
});
