import { describe, expect, it } from 'vitest';
import { influxConfigSchema, outputsConfigSchema } from './config.js';

const messages = (input: unknown): string[] => {
  const result = influxConfigSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
};

describe('influxConfigSchema', () => {
  it('fills the documented defaults, durations in ms', () => {
    expect(influxConfigSchema.parse({})).toEqual({
      url: 'http://127.0.0.1:8086', version: 1, database: 'sluice', batchSize: 5000,
      flushInterval: 1000, maxInflightRequests: 2, maxBufferedPoints: 200_000, maxRetryDelay: 30_000, timeout: 10_000,
      createDatabase: true, contentEncoding: 'identity', tls: { insecureSkipVerify: false },
    });
    expect(influxConfigSchema.parse({ flushInterval: '250ms', timeout: 500 })).toMatchObject({ flushInterval: 250, timeout: 500 });
  });

  it('refuses TLS options for an http:// URL, naming the key', () => {
    expect(messages({ tls: { ca: 'ca.pem' } })).toEqual(['tls.ca: influx.tls.ca is set but influx.url is not https://: use an https:// URL, or remove influx.tls.ca']);
    expect(messages({ url: 'https://influx:8086', tls: { ca: 'ca.pem', insecureSkipVerify: true } })).toEqual([]);
    expect(messages({ contentEncoding: 'br' })).toEqual(['contentEncoding: expected gzip or identity']);
  });

  it('refuses a buffer bound below one write', () => {
    expect(messages({ batchSize: 5000, maxBufferedPoints: 4999 })).toEqual(['maxBufferedPoints: influx.maxBufferedPoints (4999) is below influx.batchSize (5000): the sink could never fill a write; raise it or lower batchSize']);
    expect(messages({ batchSize: 100, maxBufferedPoints: 100 })).toEqual([]);
  });

  it('refuses unknown keys', () => {
    expect(messages({ batchsize: 10 }).join()).toMatch(/batchsize/);
  });

  it('requires bucket, org and token for version 2, naming each key', () => {
    expect(messages({ version: 2 })).toEqual([
      'bucket: influx.version is 2 but influx.bucket is not set: set influx.bucket (bucket, org and token are all required for InfluxDB 2.x)',
      'org: influx.version is 2 but influx.org is not set: set influx.org (bucket, org and token are all required for InfluxDB 2.x)',
      'token: influx.version is 2 but influx.token is not set: set influx.token (bucket, org and token are all required for InfluxDB 2.x)',
    ]);
    expect(messages({ version: 2, bucket: 'b', org: 'o', token: 't' })).toEqual([]);
  });

  it('says to set version 2 when a v2 key is given to a v1 config, and v1 keys to a v2 one', () => {
    expect(messages({ token: 't' })).toEqual(['token: influx.token is only used with InfluxDB 2.x: set influx.version: 2, or remove influx.token']);
    expect(messages({ version: 2, bucket: 'b', org: 'o', token: 't', username: 'u' }))
      .toEqual(['username: influx.username is only used with InfluxDB 1.x: remove it, or set influx.version: 1']);
  });

  it('wants a username with a password, an http(s) URL and version 1 or 2', () => {
    expect(messages({ password: 'p' })).toEqual(['username: influx.password is set but influx.username is not: set influx.username too']);
    expect(messages({ url: 'ftp://x' })).toEqual(['url: expected an http:// or https:// URL']);
    expect(messages({ version: 3 })).toEqual(['version: expected 1 (InfluxDB 1.x) or 2 (InfluxDB 2.x/3.x)']);
  });
});

describe('outputsConfigSchema', () => {
  it('writes no raw readings unless asked', () => {
    expect(outputsConfigSchema.parse({})).toEqual({ raw: false });
    expect(outputsConfigSchema.safeParse({ raw: 'yes' }).success).toBe(false);
  });
});
