import { Aedes, type Client, type PublishPacket } from 'aedes';
import { afterEach, expect, it } from 'vitest';
import { newRouteCheck, UnroutedPublishes } from './unrouted-publishes.js';

const brokers: Aedes[] = [];
afterEach(async () => {
  for (const b of brokers.splice(0)) await new Promise<void>((resolve) => b.close(() => resolve()));
});

async function broker(): Promise<Aedes> {
  const b = new Aedes();
  await b.listen();
  brokers.push(b);
  return b;
}

const publish = (topic: string, retain = false): PublishPacket => ({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 1, retain, dup: false, messageId: 1 });
/** Lets the lookup's promise settle. */
const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

it('lets a topic nobody subscribes to skip routing once looked up, and not after any new subscription', async () => {
  const b = await broker();
  const unrouted = new UnroutedPublishes(b);
  const check = newRouteCheck();
  const packet = publish('devices/d1/telemetry');
  expect(unrouted.skippable(check, packet)).toBe(false); // not known yet: routed, looked up
  await settled();
  expect(unrouted.skippable(check, packet)).toBe(true);
  expect(unrouted.skippable(check, publish('devices/d1/telemetry', true))).toBe(false); // retained: aedes stores it
  expect(unrouted.skippable(newRouteCheck(), publish('devices/d1/telemetry/json'))).toBe(false); // another client's first
  expect(unrouted.skippable(check, packet)).toBe(true);

  // An online subscription (any filter) invalidates at once, before it can receive.
  await new Promise<void>((resolve) => b.subscribe('devices/+/telemetry', (_p, cb) => cb(), resolve));
  expect(unrouted.skippable(check, packet)).toBe(false);
  await settled();
  expect(unrouted.skippable(check, packet)).toBe(false); // it matches: always routed now
});

it('routes to a subscription stored for an offline session', async () => {
  const b = await broker();
  const unrouted = new UnroutedPublishes(b);
  const check = newRouteCheck();
  const packet = publish('devices/d2/telemetry');
  unrouted.skippable(check, packet);
  await settled();
  expect(unrouted.skippable(check, packet)).toBe(true);
  const persistence = (b as unknown as { persistence: { addSubscriptions(c: Client, s: unknown[]): Promise<unknown> } }).persistence;
  await persistence.addSubscriptions({ id: 'offline-sub' } as Client, [{ topic: 'devices/#', qos: 1, rh: 0, rap: false, nl: false }]);
  expect(unrouted.skippable(check, packet)).toBe(false);
  await settled();
  expect(unrouted.skippable(check, packet)).toBe(false);
  // A subscription that does not match leaves the topic unrouted after a lookup.
  const other = newRouteCheck();
  const command = publish('factory/x/telemetry');
  unrouted.skippable(other, command);
  await settled();
  expect(unrouted.skippable(other, command)).toBe(true);
});
