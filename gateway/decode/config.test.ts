import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/index.js';
import { decodeLimitsSchema, parseDecodeLimits } from './config.js';
import { REASON_CODE, REASON_NAMES, REJECT_REASONS, reasonName } from './reasons.js';

describe('decode options', () => {
  it('fills documented defaults', () => {
    expect(decodeLimitsSchema.parse({})).toEqual({
      maxReadingsPerMessage: 10_000,
      maxMetricNameLength: 128,
      maxTagLength: 128,
      timestampSkewPastMs: 7 * 24 * 3600 * 1000,
      timestampSkewFutureMs: 10 * 1000,
      maxMetricsPerDevice: 1000,
      maxSeriesPerDevice: 1000,
      maxDevicesPerIdentity: 100_000,
      threads: Math.max(1, availableParallelism() - 1),
      maxQueue: 16,
      inlineMaxBytes: 64 * 1024,
    });
  });

  it('refuses unknown keys and bad values, naming the path, the value and what was expected', () => {
    expect(() => parseDecodeLimits({ maxQueu: 3 })).toThrow(ConfigError);
    expect(() => parseDecodeLimits({ maxQueu: 3 })).toThrow(/decode\.maxQueu: unknown option/);
    expect(() => parseDecodeLimits({ threads: 0 }, 'gateway.decode')).toThrow(/gateway\.decode\.threads: .*(>=|>).*\(got 0\)/);
    expect(() => parseDecodeLimits({ maxTagLength: '12' })).toThrow(/decode\.maxTagLength: .*number.*\(got "12"\)/);
    expect(parseDecodeLimits({ maxQueue: 0 }).maxQueue).toBe(0);
  });
});

describe('reject reasons', () => {
  it('has one stable code per name, 0 = accepted', () => {
    expect(REASON_NAMES[0]).toBe('accepted');
    REASON_NAMES.forEach((name, code) => expect(REASON_CODE[name]).toBe(code));
    expect(REJECT_REASONS).toEqual([
      'decode_error', 'json_invalid', 'empty_batch', 'no_value', 'non_finite_value', 'timestamp_skew', 'metric_name_invalid',
      'metric_name_too_long', 'too_many_readings', 'series_length_mismatch', 'seq_out_of_range', 'tag_invalid', 'cardinality_limit', 'timestamp_future',
      'timestamp_invalid', 'value_unsupported', 'seq_invalid', 'sparkplug_topic_invalid', 'sparkplug_alias_unknown',
      'device_limit',
    ]);
    expect(reasonName(REASON_CODE.cardinality_limit)).toBe('cardinality_limit');
    expect(() => reasonName(200)).toThrow(RangeError);
  });
});
