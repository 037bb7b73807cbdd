import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter } from './state/bytes.js';
import { FINGERPRINT_OTHER, FINGERPRINT_SAME, FINGERPRINT_UNKNOWN, SeqFingerprints } from './seq-fingerprints.js';

describe('SeqFingerprints', () => {
  it('keeps the run\'s first 4 and the latest 16, and tells a kept message, another one under its seq, and an unknown seq apart', () => {
    const f = new SeqFingerprints();
    for (let seq = 1; seq <= 30; seq++) f.record(seq, 1000 + seq);
    const kept = [1, 2, 3, 4, ...Array.from({ length: 16 }, (_, i) => 15 + i)];
    for (let seq = 1; seq <= 30; seq++) {
      expect(f.match(seq, 1000 + seq), `seq ${seq}`).toBe(kept.includes(seq) ? FINGERPRINT_SAME : FINGERPRINT_UNKNOWN);
      if (kept.includes(seq)) expect(f.match(seq, 7)).toBe(FINGERPRINT_OTHER);
    }
  });

  it('carries the latest, not the firsts, into the next run; a seq kept twice matches either fingerprint', () => {
    const f = new SeqFingerprints();
    for (let seq = 1; seq <= 20; seq++) f.record(seq, seq);
    const next = f.nextRun();
    expect(next.match(1, 1)).toBe(FINGERPRINT_UNKNOWN); // a first of the run before
    expect(next.match(20, 20)).toBe(FINGERPRINT_SAME);
    next.record(20, 99); // the other process's seq 20
    expect([next.match(20, 20), next.match(20, 99), next.match(20, 5)]).toEqual([FINGERPRINT_SAME, FINGERPRINT_SAME, FINGERPRINT_OTHER]);
  });

  it('reads back what it wrote, and refuses counts that cannot be', () => {
    const f = new SeqFingerprints();
    for (let seq = 2 ** 40; seq < 2 ** 40 + 25; seq++) f.record(seq, (seq * 7) >>> 0);
    const w = new ByteWriter();
    f.nextRun().write(w);
    const back = SeqFingerprints.read(new ByteReader(w.finish(), 'test'), 'd');
    for (let seq = 2 ** 40; seq < 2 ** 40 + 25; seq++) expect(back.match(seq, (seq * 7) >>> 0)).toBe(seq >= 2 ** 40 + 9 ? FINGERPRINT_SAME : FINGERPRINT_UNKNOWN);
    const bad = new ByteWriter();
    bad.varint(5); // five firsts
    bad.varint(5);
    expect(() => SeqFingerprints.read(new ByteReader(bad.finish(), 'test'), 'd')).toThrow(/5 first fingerprints/);
  });
});
