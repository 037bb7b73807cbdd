import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthRefusedError } from '../../core/index.js';
import { tempDir } from '../../test/harness/temp-dir.js';
import { authConfigSchema, createAuthenticator, DeviceRegistry, type Authenticator } from './index.js';

async function refusal(promise: Promise<unknown>): Promise<AuthRefusedError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(AuthRefusedError);
  return err as AuthRefusedError;
}

describe('registry mode under wrong secrets', () => {
  let dir: { path: string; remove(): Promise<void> };
  let registry: DeviceRegistry;
  const secrets = new Map<string, string>();
  const id = (name: string): string => `${name}-${randomUUID()}`;

  beforeAll(async () => {
    dir = await tempDir('sluice-regauth-');
    registry = await DeviceRegistry.load(`${dir.path}/devices.json`, { scryptCost: 1024 });
  });
  afterAll(() => dir.remove());

  async function device(name: string, role: 'device' | 'service' = 'device'): Promise<string> {
    const deviceId = id(name);
    secrets.set(deviceId, await registry.add(deviceId, { role }));
    return deviceId;
  }
  const auth = (config: object = {}): Authenticator => createAuthenticator(authConfigSchema.parse(config), { registry });
  const secret = (deviceId: string): Buffer => Buffer.from(secrets.get(deviceId)!);
  const wrong = Buffer.from('not-the-secret');

  it('backs a device id off after a wrong secret: code 5, reason auth_backoff, no scrypt', async () => {
    const a = auth();
    const d = await device('d');
    expect((await refusal(a.authenticate(d, d, wrong, { address: '10.0.0.1' }))).reason).toBe('auth_refused');
    const backoff = await refusal(a.authenticate(d, d, secret(d), { address: '10.0.0.2' }));
    expect(backoff).toMatchObject({ returnCode: 5, reason: 'auth_backoff', code: 'SLUICE_AUTH_REFUSED' });
    expect(backoff.message).toMatch(/too many wrong secrets .*retry in 1 s/);
  });

  it('still admits the real device during its id backoff when its secret was verified recently', async () => {
    const a = auth();
    const d = await device('cached');
    expect((await a.authenticate(d, d, secret(d))).id).toBe(d);
    await refusal(a.authenticate(d, d, wrong, { address: '10.0.0.9' }));
    // A wrong password never hits the cache: it is backed off, not accepted.
    expect((await refusal(a.authenticate(d, d, wrong, { address: '10.0.0.9' }))).reason).toBe('auth_backoff');
    expect((await a.authenticate(d, d, secret(d), { address: '10.0.0.3' })).id).toBe(d);
  });

  it('refuses checks queued behind a failure once the id backs off, without hashing them', async () => {
    const a = auth({ verify: { concurrency: 1 } });
    const d = await device('queued');
    const attempts = [1, 2, 3, 4].map(() => refusal(a.authenticate(d, d, wrong, { address: '10.3.3.3' })));
    const reasons = (await Promise.all(attempts)).map((err) => err.reason);
    expect(reasons).toEqual(['auth_refused', 'auth_backoff', 'auth_backoff', 'auth_backoff']);
  });

  it('backs a source address off after addressFailures wrong secrets for different ids', async () => {
    const a = auth({ backoff: { addressFailures: 3 } });
    const ids = await Promise.all([1, 2, 3, 4].map(() => device('addr')));
    for (const d of ids.slice(0, 3)) expect((await refusal(a.authenticate(d, d, wrong, { address: '10.1.1.1' }))).reason).toBe('auth_refused');
    const last = ids[3]!;
    expect((await refusal(a.authenticate(last, last, secret(last), { address: '10.1.1.1' }))).reason).toBe('auth_backoff');
    expect((await a.authenticate(last, last, secret(last), { address: '10.1.1.2' })).id).toBe(last);
  });

  it('keeps unknown ids cheap and out of the backoff: always code 4', async () => {
    const a = auth({ backoff: { addressFailures: 1 } });
    for (let i = 0; i < 5; i++) {
      expect(await refusal(a.authenticate('ghost', 'ghost', wrong, { address: '10.2.2.2' }))).toMatchObject({ returnCode: 4, reason: 'auth_refused' });
    }
  });

  it('refuses a service using a registered device id as its client id with code 2 (defect 9)', async () => {
    const a = auth();
    const d = await device('victim');
    const s = await device('svc', 'service');
    const err = await refusal(a.authenticate(d, s, secret(s)));
    expect(err).toMatchObject({ returnCode: 2, reason: 'client_id_reserved' });
    expect(err.message).toContain(d);
    const otherService = await device('svc2', 'service');
    expect((await refusal(a.authenticate(otherService, s, secret(s)))).reason).toBe('client_id_reserved');
    expect((await a.authenticate(s, s, secret(s))).role).toBe('service');
    expect((await a.authenticate('dashboard-7', s, secret(s))).role).toBe('service');
  });
});
