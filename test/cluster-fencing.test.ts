/**
 * Issue 13: two processors for the same partitions (an operator's mistake, or a processor
 * thought dead that was not): the second's epoch fences the first.
 */
import { afterEach, expect, it } from 'vitest';
import { startSluiceCluster } from './harness/sluice-cluster.js';

const FLEET_KEY = 'fence-fleet-key-0123456789';
const TIME = { maxOutOfOrderness: '1s', idleTimeout: '1s', allowedLateness: '5s' };
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

it('a processor started a second time for the same partitions fences the first: its checkpoint is refused and it stops', { timeout: 240_000 }, async () => {
  const cluster = await startSluiceCluster({ nats: 'single', gateways: 1, processors: ['0-63'], fleetKey: FLEET_KEY, database: 'cluster_fence', time: TIME, cleanups });
  const first = cluster.processors[0]!;
  const second = cluster.processor('0-63');
  await second.start();
  // The first one's next checkpoint (every second) meets the epoch the second one claimed.
  const code = await first.process.exited;
  const output = first.process.output.join('\n');
  expect(output).toMatch(/partition \d+: checkpoint refused, our epoch 1 but the manifest holds epoch 2 .*another processor owns this partition now.*\[SLUICE_CHECKPOINT_FENCED\]/);
  expect(code).toBe(2);
  expect(second.process.child.exitCode).toBeNull();
});
