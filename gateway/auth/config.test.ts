import { describe, expect, it } from 'vitest';
import { aclConfigSchema, authConfigSchema } from './index.js';

describe('authConfigSchema', () => {
  it('defaults to registry mode with ./devices.json', () => {
    expect(authConfigSchema.parse({})).toEqual({ mode: 'registry', registry: './devices.json' });
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
    expect(authConfigSchema.parse({ mode: 'token', fleetKey: key })).toEqual({ mode: 'token', registry: './devices.json', fleetKey: key });
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
