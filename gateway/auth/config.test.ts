import { describe, expect, it } from 'vitest';
import { aclConfigSchema, authConfigSchema } from './index.js';

describe('authConfigSchema', () => {
  it('defaults to registry mode with ./devices.json and bounded scrypt work', () => {
    expect(authConfigSchema.parse({})).toEqual({
      mode: 'registry',
      registry: './devices.json',
      verify: { concurrency: 2, maxQueued: 256 },
      backoff: { initial: 1000, max: 60_000, idFailures: 1, addressFailures: 10, maxTracked: 100_000 },
      cache: { size: 100_000, ttl: 3_600_000 },
      reload: { watch: true, debounce: 100 },
    });
  });

  it('takes durations as text and refuses unknown or out-of-range limits, naming the path', () => {
    expect(authConfigSchema.parse({ backoff: { initial: '250ms', max: '2m' } }).backoff).toMatchObject({ initial: 250, max: 120_000 });
    const unknown = authConfigSchema.safeParse({ verify: { concurency: 3 } });
    expect(unknown.success).toBe(false);
    expect(JSON.stringify(unknown.error?.issues)).toContain('concurency');
    const zero = authConfigSchema.safeParse({ verify: { concurrency: 0 } });
    expect(zero.error?.issues[0]?.path).toEqual(['verify', 'concurrency']);
  });

  it('refuses unknown keys', () => {
    const result = authConfigSchema.safeParse({ mode: 'registry', fleetkey: 'x' });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain('fleetkey');
  });

  it('requires a fleet key in token mode and says where to set it', () => {
    const result = authConfigSchema.safeParse({ mode: 'token' });
    expect(result.success).toBe(false);
    const issue = result.error!.issues[0]!;
    expect(issue.path).toEqual(['fleetKey']);
    expect(issue.message).toContain('auth.fleetKey');
    expect(issue.message).toContain('SLUICE_AUTH_FLEET_KEY');
  });

  it('refuses a fleet key shorter than 16 characters', () => {
    const result = authConfigSchema.safeParse({ mode: 'token', fleetKey: 'short' });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0]!.message).toContain('SLUICE_AUTH_FLEET_KEY');
  });

  it('accepts token mode with a long enough key', () => {
    const key = 'k'.repeat(16);
    expect(authConfigSchema.parse({ mode: 'token', fleetKey: key })).toMatchObject({ mode: 'token', registry: './devices.json', fleetKey: key });
  });

  it('refuses an unknown mode', () => {
    expect(authConfigSchema.safeParse({ mode: 'open' }).success).toBe(false);
  });
});

describe('aclConfigSchema', () => {
  it('has no file by default and refuses unknown keys', () => {
    expect(aclConfigSchema.parse({})).toEqual({});
    expect(aclConfigSchema.parse({ file: 'acl.conf' })).toEqual({ file: 'acl.conf' });
    expect(aclConfigSchema.safeParse({ files: 'acl.conf' }).success).toBe(false);
  });
});
