import { describe, expect, it } from 'vitest';
import { AuthBusyError } from '../../core/index.js';
import { VerificationGate } from './verification-gate.js';

/** A check that finishes when the test says so. */
function deferred(): { promise: Promise<string>; finish: (v: string) => void } {
  let finish!: (v: string) => void;
  const promise = new Promise<string>((resolve) => (finish = resolve));
  return { promise, finish };
}

describe('VerificationGate', () => {
  it('runs at most `concurrency` checks at once, the rest in arrival order', async () => {
    const gate = new VerificationGate(2, 10);
    const started: number[] = [];
    const checks = [0, 1, 2, 3].map(() => deferred());
    const results = checks.map((c, i) => gate.run(() => (started.push(i), c.promise)));
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect(gate.pending).toBe(4);
    checks[1]!.finish('b');
    expect(await results[1]).toBe('b');
    expect(started).toEqual([0, 1, 2]);
    checks[0]!.finish('a');
    checks[2]!.finish('c');
    await results[2];
    expect(started).toEqual([0, 1, 2, 3]);
    checks[3]!.finish('d');
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c', 'd']);
    expect(gate.pending).toBe(0);
  });

  it('refuses with AuthBusyError (CONNACK 3, canRetry) when the queue is full', async () => {
    const gate = new VerificationGate(1, 1);
    const running = deferred();
    const first = gate.run(() => running.promise);
    const queued = gate.run(async () => 'queued');
    const err = await gate.run(async () => 'never').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthBusyError);
    expect(err).toMatchObject({ code: 'SLUICE_AUTH_BUSY', returnCode: 3, reason: 'auth_busy', canRetry: true });
    running.finish('first');
    expect([await first, await queued]).toEqual(['first', 'queued']);
  });

  it('skips a queued check whose client went away, and frees its slot', async () => {
    const gate = new VerificationGate(1, 5);
    const running = deferred();
    const first = gate.run(() => running.promise);
    let ran = false;
    const gone = gate.run(async () => ((ran = true), 'x'), () => false);
    const next = gate.run(async () => 'next');
    running.finish('first');
    expect(await gone).toBeUndefined();
    expect(ran).toBe(false);
    expect(await next).toBe('next');
    await first;
    expect(gate.pending).toBe(0);
  });

  it('frees the slot when a check throws', async () => {
    const gate = new VerificationGate(1, 5);
    await expect(gate.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await gate.run(async () => 'ok')).toBe('ok');
  });
});
