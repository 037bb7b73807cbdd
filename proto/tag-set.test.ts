import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeTagSet, parseTagSet, tagProblem } from './tag-set.js';

describe('canonical tag set', () => {
  it('parses back exactly the tags that went in, whatever characters they hold', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'b', '\\', ',', '=', ' ', 'é', '\n'), minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(fc.dictionary(text, text, { maxKeys: 4 }), (tags) => {
        const canonical = encodeTagSet(tags);
        expect(parseTagSet(canonical)).toEqual({ ...tags });
        // the same set in another key order gives the same string
        expect(encodeTagSet(Object.fromEntries(Object.entries(tags).reverse()))).toBe(canonical);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps the cases that used to come back altered', () => {
    for (const tags of [{ a: 'x\\', b: 'y' }, { a: 'a\\b' }, { a: 'a\\ b' }, { 'k=1': 'v,2' }] as Record<string, string>[]) expect(parseTagSet(encodeTagSet(tags))).toEqual(tags);
  });

  it('names what InfluxDB cannot store exactly, and accepts the rest', () => {
    const problem = (k: string, v: string): string | undefined => tagProblem(k, v, 16);
    expect(problem('time', 'x')).toMatch(/reserved \(InfluxDB refuses it/);
    expect(problem('device', 'x')).toMatch(/reserved/);
    expect(problem('count', 'x')).toMatch(/a field name/);
    expect(problem('_field', 'x')).toMatch(/InfluxDB 2\.x/);
    expect(problem('a', 'x\\')).toMatch(/backslash/);
    expect(problem('a\\', 'x')).toMatch(/backslash/);
    for (const v of ['a\\,b', 'a\\=b', 'a\\ b']) expect(problem('a', v)).toMatch(/backslash/);
    for (const v of ['line\nbreak', 'cr\r', 'tab\t', 'nul\u0000', 'del\u007f']) expect(problem('a', v)).toMatch(/control characters/);
    expect(problem('', 'x')).toMatch(/1\.\.16/);
    expect(problem('a', 'x'.repeat(17))).toMatch(/1\.\.16/);
    for (const v of ['a\\b', 'a\\\\b', 'x,y', 'k=v', 'with space', 'é✓']) expect(problem('a', v), v).toBeUndefined();
  });
});
