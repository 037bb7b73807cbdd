/** Distributed mode's NATS credentials against a real nats-server that requires them: user/password and token. */
import { afterEach, expect, it } from 'vitest';
import { JetStreamLog } from '../log/index.js';
import { startNatsServer, type TestNats } from './harness/nats-server.js';

let nats: TestNats | undefined;
afterEach(async () => {
  await nats?.destroy();
  nats = undefined;
});

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

it('with nats.user and nats.pass the log works; without them or with a wrong password it is refused, saying how to fix it', async () => {
  nats = await startNatsServer({ auth: { user: 'sluice', pass: 'right-pass' } });
  const open = (auth: { user?: string; pass?: string }) => JetStreamLog.open({ servers: nats!.servers, partitions: 2, ...auth });
  await expect(open({})).rejects.toThrow(/cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: Authorization Violation; the server refused the credentials: set nats\.user and nats\.pass, nats\.token or nats\.credsFile/);
  await expect(open({ user: 'sluice', pass: 'wrong-pass' })).rejects.toMatchObject({ code: 'SLUICE_LOG_UNAVAILABLE' });
  const log = await open({ user: 'sluice', pass: 'right-pass' });
  try {
    const offset = await log.append(1, text('reading'));
    expect((await log.read(1, offset)).map((r) => new TextDecoder().decode(r.payload))).toEqual(['reading']);
  } finally {
    await log.close();
  }
});

it('with nats.token the log works; a wrong token is refused', async () => {
  nats = await startNatsServer({ auth: { token: 'server-token-0123' } });
  await expect(JetStreamLog.open({ servers: nats.servers, partitions: 1, token: 'other-token' })).rejects.toMatchObject({ code: 'SLUICE_LOG_UNAVAILABLE' });
  const log = await JetStreamLog.open({ servers: nats.servers, partitions: 1, token: 'server-token-0123' });
  try {
    expect(await log.append(0, text('x'))).toBeGreaterThan(0);
  } finally {
    await log.close();
  }
});
