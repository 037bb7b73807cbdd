import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RefusalLog } from './refusal-log.js';

function recordingLogger() {
  const lines: { fields: Record<string, unknown>; msg: string }[] = [];
  const logger = { warn: (fields: Record<string, unknown>, msg: string) => lines.push({ fields, msg }) };
  return { lines, logger: logger as unknown as ConstructorParameters<typeof RefusalLog>[0] };
}

describe('RefusalLog', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('logs the first refusal of a reason at once, then one summary line per interval with the count not logged', () => {
    const { lines, logger } = recordingLogger();
    const log = new RefusalLog(logger, 10_000);
    log.refused('auth_refused', { clientId: 'a' }, 'connection refused: bad credentials');
    for (let i = 0; i < 99; i++) log.refused('auth_refused', { clientId: 'a' }, 'connection refused: bad credentials');
    log.refused('acl_publish', { clientId: 'b', topic: 't' }, 'publish refused');
    expect(lines).toEqual([
      { fields: { reason: 'auth_refused', clientId: 'a' }, msg: 'connection refused: bad credentials' },
      { fields: { reason: 'acl_publish', clientId: 'b', topic: 't' }, msg: 'publish refused' },
    ]);
    vi.advanceTimersByTime(10_000);
    expect(lines.slice(2)).toEqual([{ fields: { reason: 'auth_refused', suppressed: 99 }, msg: '99 more auth_refused refusals in the last 10 s, not logged one by one' }]);
    // A new interval starts with the next refusal, logged at once.
    log.refused('auth_refused', { clientId: 'c' }, 'connection refused: bad credentials');
    expect(lines).toHaveLength(4);
  });

  it('writes pending summaries on close', () => {
    const { lines, logger } = recordingLogger();
    const log = new RefusalLog(logger, 10_000);
    log.refused('acl_subscribe', {}, 'subscription refused');
    log.refused('acl_subscribe', {}, 'subscription refused');
    log.close();
    expect(lines.map((l) => l.fields)).toEqual([{ reason: 'acl_subscribe' }, { reason: 'acl_subscribe', suppressed: 1 }]);
  });
});
