import { describe, expect, it } from 'vitest';
import { VerifiedSecrets } from './verified-secrets.js';

const pw = (s: string): Buffer => Buffer.from(s);

describe('VerifiedSecrets', () => {
  it('hits only the same id, stored hash and password', () => {
    const cache = new VerifiedSecrets({ maxEntries: 10, ttlMs: 1000 });
    cache.add('d1', 'scrypt$old', pw('right'));
    expect(cache.has('d1', 'scrypt$old', pw('right'))).toBe(true);
    expect(cache.has('d1', 'scrypt$old', pw('wrong'))).toBe(false);
    expect(cache.has('d1', 'scrypt$old', pw('righ'))).toBe(false);
    // The secret changed (re-added: new salt and hash): the old password no longer hits.
    expect(cache.has('d1', 'scrypt$new', pw('right'))).toBe(false);
    expect(cache.has('d2', 'scrypt$old', pw('right'))).toBe(false);
  });

  it('expires entries after the TTL and forgets deleted ids', () => {
    let now = 0;
    const cache = new VerifiedSecrets({ maxEntries: 10, ttlMs: 1000 }, () => now);
    cache.add('d1', 'h', pw('p'));
    cache.add('d2', 'h', pw('p'));
    now = 999;
    expect(cache.has('d1', 'h', pw('p'))).toBe(true);
    cache.delete('d2');
    expect(cache.has('d2', 'h', pw('p'))).toBe(false);
    now = 1000;
    expect(cache.has('d1', 'h', pw('p'))).toBe(false);
  });

  it('keeps at most maxEntries, and nothing when 0', () => {
    const cache = new VerifiedSecrets({ maxEntries: 2, ttlMs: 1000 });
    for (const id of ['a', 'b', 'c']) cache.add(id, 'h', pw('p'));
    expect(['a', 'b', 'c'].map((id) => cache.has(id, 'h', pw('p')))).toEqual([false, true, true]);
    const off = new VerifiedSecrets({ maxEntries: 0, ttlMs: 1000 });
    off.add('a', 'h', pw('p'));
    expect(off.has('a', 'h', pw('p'))).toBe(false);
  });
});
