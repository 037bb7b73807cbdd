import { createHmac, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthRefusedError, ConfigError } from '../../core/index.js';
import { authConfigSchema, createAuthenticator, DeviceRegistry, type Authenticator } from './index.js';

/** The refusal `promise` ends with; fails the test when it resolves. */
async function refusal(promise: Promise<unknown>): Promise<AuthRefusedError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AuthRefusedError);
  return err as AuthRefusedError;
}

describe('registry mode', () => {
  let dir: string;
  let auth: Authenticator;
  let secret: string;
  let serviceSecret: string;
  const id = `dev-${randomUUID()}`;
  const service = `svc-${randomUUID()}`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-auth-'));
    const registry = await DeviceRegistry.load(join(dir, 'devices.json'), { scryptCost: 1024 });
    secret = await registry.add(id, { tags: { site: 'lab' } });
    serviceSecret = await registry.add(service, { role: 'service' });
    auth = createAuthenticator(authConfigSchema.parse({}), { registry });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts a registered device with its secret and returns its tags', async () => {
    const identity = await auth.authenticate(id, id, Buffer.from(secret));
    expect(identity).toEqual({ id, role: 'device', tags: { site: 'lab' }, tagString: 'site=lab' });
  });

  it('refuses an unknown device with code 4, naming it', async () => {
    const err = await refusal(auth.authenticate('ghost', 'ghost', Buffer.from(secret)));
    expect(err.returnCode).toBe(4);
    expect(err.message).toContain('"ghost"');
  });

  it('refuses a wrong secret with code 4, naming the device but not the secret', async () => {
    // Change the last character, whatever it is (a fixed replacement could equal it).
    const wrong = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    const err = await refusal(auth.authenticate(id, id, Buffer.from(wrong)));
    expect(err.returnCode).toBe(4);
    expect(err.code).toBe('SLUICE_AUTH_REFUSED');
    expect(err.message).toContain(id);
    expect(err.message).not.toContain(wrong);
  });

  it('refuses a device whose client id is not its username with code 5', async () => {
    const err = await refusal(auth.authenticate('other-client', id, Buffer.from(secret)));
    expect(err.returnCode).toBe(5);
    expect(err.message).toContain('client id must equal the username');
  });

  it('lets a service use any client id', async () => {
    const identity = await auth.authenticate('dashboard-7', service, Buffer.from(serviceSecret));
    expect(identity.role).toBe('service');
  });

  it('refuses a missing or empty username and a missing password with code 4', async () => {
    expect((await refusal(auth.authenticate(id, undefined, Buffer.from(secret)))).returnCode).toBe(4);
    expect((await refusal(auth.authenticate(id, '', Buffer.from(secret)))).returnCode).toBe(4);
    expect((await refusal(auth.authenticate(id, id, undefined))).returnCode).toBe(4);
  });

  it('needs a registry', () => {
    expect(() => createAuthenticator(authConfigSchema.parse({}))).toThrow(ConfigError);
  });
});

describe('token mode', () => {
  const fleetKey = 'fleet-key-0123456789abcdef';
  const auth = createAuthenticator(authConfigSchema.parse({ mode: 'token', fleetKey }));
  const token = (id: string): Buffer => Buffer.from(createHmac('sha256', fleetKey).update(id).digest('hex'));

  it('accepts password = hex HMAC-SHA256(fleetKey, username)', async () => {
    expect(await auth.authenticate('dev-9', 'dev-9', token('dev-9'))).toEqual({ id: 'dev-9', role: 'device', tags: {}, tagString: '' });
  });

  it("refuses another device's token, an upper-case token and a wrong-length one with code 4", async () => {
    for (const password of [token('dev-8'), Buffer.from(token('dev-9').toString().toUpperCase()), token('dev-9').subarray(1), Buffer.alloc(0)]) {
      const err = await refusal(auth.authenticate('dev-9', 'dev-9', password));
      expect(err.returnCode).toBe(4);
      expect(err.message).toContain('dev-9');
    }
  });

  it('refuses a client id that is not the username with code 5', async () => {
    expect((await refusal(auth.authenticate('dev-1', 'dev-9', token('dev-9')))).returnCode).toBe(5);
  });

  it('refuses missing credentials and usernames that are not device ids with code 4', async () => {
    expect((await refusal(auth.authenticate('dev-9', undefined, token('dev-9')))).returnCode).toBe(4);
    expect((await refusal(auth.authenticate('dev-9', 'dev-9', undefined))).returnCode).toBe(4);
    expect((await refusal(auth.authenticate('a/+', 'a/+', token('a/+')))).returnCode).toBe(4);
  });

  it('needs a fleet key', () => {
    expect(() => createAuthenticator({ ...authConfigSchema.parse({}), mode: 'token' })).toThrow(ConfigError);
  });
});

describe('anonymous mode', () => {
  it('warns once at creation and accepts everyone', async () => {
    const warnings: string[] = [];
    const auth = createAuthenticator(authConfigSchema.parse({ mode: 'anonymous' }), { logger: { warn: (_obj, msg) => warnings.push(msg) } });
    expect(await auth.authenticate('client-1', 'alice', undefined)).toEqual({ id: 'alice', role: 'device', tags: {}, tagString: '' });
    expect(await auth.authenticate('client-2', undefined, undefined)).toMatchObject({ id: 'client-2', role: 'device' });
    expect(warnings).toEqual(['anonymous mode: any client may connect; development only']);
  });
});
