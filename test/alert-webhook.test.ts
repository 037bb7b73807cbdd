/** AlertWebhook against a real HTTP receiver: order, retries, refusals, the bounded queue. */
import { createServer, type Server } from 'node:http';
import { afterEach, expect, it } from 'vitest';
import { createLogger } from '../core/index.js';
import { AlertWebhook, type AlertTransition } from '../processors/rules/index.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((resolve) => s.close(() => resolve()));
});

/** A receiver that answers each request with the next of `statuses` (then 204), recording what 2xx-answered requests carried. */
async function receiver(statuses: number[]): Promise<{ url: string; got: { key: string; id: string }[]; requests: () => number }> {
  const got: { key: string; id: string }[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = statuses[n++] ?? 204;
      if (status < 300) got.push({ key: req.headers['idempotency-key'] as string, id: (JSON.parse(Buffer.concat(chunks).toString()) as { id: string }).id });
      res.writeHead(status).end();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, got, requests: () => n };
}

const transition = (id: string): AlertTransition => ({ id, rule: 'r', device: 'd', readingTags: '', severity: 'info', state: 'firing', time: 1_700_000_000_000, value: 1, threshold: 0, description: '', deviceTags: '' });

function webhook(url: string, maxQueued = 100) {
  const counts = { sent: 0, retried: 0, refused: 0, dropped: 0 };
  let settled: () => void = () => undefined;
  const hook = new AlertWebhook({ url, timeoutMs: 2_000, maxRetryDelayMs: 20, maxQueued, logger: createLogger('test', 'silent'), count: (o) => { counts[o]++; settled(); } });
  /** Resolves once sent + refused + dropped reaches n. */
  const done = (n: number) => new Promise<void>((resolve) => { settled = () => { if (counts.sent + counts.refused + counts.dropped >= n) resolve(); }; settled(); });
  return { hook, counts, done };
}

it('posts transitions in order, retrying 5xx, 429 and 408 with backoff and not retrying another 4xx', async () => {
  const r = await receiver([503, 429, 408, 204, 400, 204]);
  const { hook, counts, done } = webhook(r.url);
  for (const id of ['a', 'b', 'c']) hook.send(transition(id));
  await done(3);
  // a: 503, 429, 408, then 204; b: 400 (refused, dropped); c: 204.
  expect(r.got).toEqual([{ key: 'a', id: 'a' }, { key: 'c', id: 'c' }]);
  expect(counts).toEqual({ sent: 2, retried: 3, refused: 1, dropped: 0 });
  hook.close();
});

it('keeps at most maxQueued transitions while the receiver is down, dropping the oldest', async () => {
  const r = await receiver([503, 503]);
  const { hook, counts, done } = webhook(r.url, 2);
  for (const id of ['a', 'b', 'c', 'd']) hook.send(transition(id));
  await done(4);
  // The queue holds 2: c pushes out a (its first request then fails and it is not sent again), d pushes out b.
  expect(counts.dropped).toBe(2);
  expect(r.got.map((g) => g.id)).toEqual(['c', 'd']);
  hook.close();
});
