import { describe, expect, it } from 'vitest';
import { PointInvalidError } from './errors.js';
import { lineKey, toLineProtocol, type SinkPoint } from './point.js';

const point = (over: Partial<SinkPoint> = {}): SinkPoint => ({ measurement: 'm', tags: {}, fields: { v: 1.5 }, timeMs: 1_700_000_000_000, ...over });

describe('toLineProtocol', () => {
  it('writes tags sorted, fields by type, and the time in ms', () => {
    const line = toLineProtocol(point({
      measurement: 'telemetry_10s',
      tags: { site: 'north', device: 'd1', metric: 'temp' },
      fields: { count: { int: 3 }, mean: 20.5, ok: true, note: 'hi' },
    }));
    expect(line).toBe('telemetry_10s,device=d1,metric=temp,site=north count=3i,mean=20.5,note="hi",ok=T 1700000000000');
  });

  it('writes integer fields with the i suffix, even when the value is whole', () => {
    expect(toLineProtocol(point({ fields: { count: { int: 0 }, big: { int: Number.MAX_SAFE_INTEGER }, neg: { int: -7 } } })))
      .toBe('m big=9007199254740991i,count=0i,neg=-7i 1700000000000');
    // A bigint is exact over InfluxDB's int64 (a raw int reading), and refused past it.
    expect(toLineProtocol(point({ fields: { a: { int: 9007199254740993n }, b: { int: -(2n ** 63n) }, c: { int: 2n ** 63n - 1n } } })))
      .toBe('m a=9007199254740993i,b=-9223372036854775808i,c=9223372036854775807i 1700000000000');
    expect(() => toLineProtocol(point({ fields: { a: { int: 2n ** 63n } } }))).toThrow(/integer field a is 9223372036854775808, outside int64/);
    // A whole float stays a float: no suffix.
    expect(toLineProtocol(point({ fields: { sum: 2 } }))).toBe('m sum=2 1700000000000');
  });

  it('escapes commas and spaces in measurements, and commas, spaces and = in tag keys, values and field keys', () => {
    const line = toLineProtocol(point({
      measurement: 'my meas,ure=ment',
      tags: { 'tag key': 'a b,c=d', 'k=1': 'v' },
      fields: { 'field, key=': 1 },
    }));
    expect(line).toBe('my\\ meas\\,ure=ment,k\\=1=v,tag\\ key=a\\ b\\,c\\=d field\\,\\ key\\==1 1700000000000');
  });

  it('quotes string fields and escapes quotes and backslashes in them', () => {
    expect(toLineProtocol(point({ fields: { s: 'say "hi" \\ bye, a=b' } }))).toBe('m s="say \\"hi\\" \\\\ bye, a=b" 1700000000000');
  });

  it('writes booleans as T and F, and floats that need exponents', () => {
    expect(toLineProtocol(point({ fields: { a: true, b: false, c: 1e21, d: 1.5e-7 } }))).toBe('m a=T,b=F,c=1e+21,d=1.5e-7 1700000000000');
  });

  it('leaves out empty tag values, as InfluxDB has no empty tags', () => {
    expect(toLineProtocol(point({ tags: { a: '', b: 'x' } }))).toBe('m,b=x v=1.5 1700000000000');
  });

  it.each([
    ['a NaN float', point({ fields: { v: Number.NaN } })],
    ['an infinite float', point({ fields: { v: Infinity } })],
    ['a fractional integer', point({ fields: { count: { int: 1.5 } } })],
    ['an integer past 2^53', point({ fields: { count: { int: 2 ** 60 } } })],
    ['no fields', point({ fields: {} })],
    ['an empty measurement', point({ measurement: '' })],
    ['a fractional time', point({ timeMs: 1.5 })],
    ['a tag value ending in a backslash', point({ tags: { d: 'x\\' } })],
    ['a backslash before a space in a tag value', point({ tags: { d: 'x\\ y' } })],
  ])('refuses %s with PointInvalidError', (_what, bad) => {
    expect(() => toLineProtocol(bad)).toThrow(PointInvalidError);
  });
});

describe('toLineProtocol and __proto__', () => {
  it('writes a tag or field named __proto__ (the client-based formatter silently dropped it)', () => {
    const tags = JSON.parse('{"__proto__": "x", "device": "d"}') as Record<string, string>;
    const fields = JSON.parse('{"__proto__": 1, "v": 2}') as Record<string, number>;
    expect(toLineProtocol(point({ tags, fields }))).toBe('m,__proto__=x,device=d __proto__=1,v=2 1700000000000');
  });
});

describe('lineKey', () => {
  it('is the series and time, whatever the fields', () => {
    const a = toLineProtocol(point({ tags: { device: 'd 1' }, fields: { v: 1 } }));
    const b = toLineProtocol(point({ tags: { device: 'd 1' }, fields: { v: 2, s: 'x y 3' } }));
    expect(lineKey(a)).toBe('m,device=d\\ 1 1700000000000');
    expect(lineKey(b)).toBe(lineKey(a));
    expect(lineKey(toLineProtocol(point({ tags: { device: 'd 1' }, timeMs: 1 })))).not.toBe(lineKey(a));
    expect(lineKey(toLineProtocol(point({ tags: { device: 'd 2' } })))).not.toBe(lineKey(a));
  });
});
