import { describe, expect, it } from 'vitest';
import { SparkplugNodeStatus } from './node-status.js';
import { parseSparkplugTopic, type SparkplugTopic } from './topic.js';

const topic = (t: string): SparkplugTopic => parseSparkplugTopic(t) as SparkplugTopic;
const NBIRTH = topic('spBv1.0/g/NBIRTH/e');
const NDEATH = topic('spBv1.0/g/NDEATH/e');
const dbirth = (d: string) => topic(`spBv1.0/g/DBIRTH/e/${d}`);
const ddeath = (d: string) => topic(`spBv1.0/g/DDEATH/e/${d}`);
const NOW = 1_700_000_000_000;

function setup(maxDevicesPerNode = 100) {
  let now = NOW;
  const status = new SparkplugNodeStatus({ now: () => now, timestampSkewPastMs: 60_000, timestampSkewFutureMs: 10_000, maxDevicesPerNode });
  return { status, advance: (ms: number) => (now += ms) };
}

describe('SparkplugNodeStatus', () => {
  it('makes births online and deaths offline, with the device id, event and tags', () => {
    const { status } = setup();
    expect(status.nodeBirth(NBIRTH, NOW - 100)).toEqual({ device: 'g:e', event: 'NBIRTH', online: true, timeMs: NOW - 100, tags: { group: 'g', edge: 'e', kind: 'node' } });
    expect(status.deviceBirth(dbirth('d1'), NOW - 50)).toEqual({ device: 'g:e:d1', event: 'DBIRTH', online: true, timeMs: NOW - 50, tags: { group: 'g', edge: 'e', kind: 'device' } });
    expect(status.deviceDeath(ddeath('d1'), NOW - 10)).toEqual({ device: 'g:e:d1', event: 'DDEATH', online: false, timeMs: NOW - 10, tags: { group: 'g', edge: 'e', kind: 'device' } });
  });

  it('takes an NDEATH as the death of the node and of every device online under it, at the receive time', () => {
    const { status } = setup();
    status.nodeBirth(NBIRTH, NOW - 100);
    for (const d of ['d1', 'd2', 'd3']) status.deviceBirth(dbirth(d), NOW - 90);
    status.deviceDeath(ddeath('d2'), NOW - 80); // already offline: not again
    expect(status.onlineDevices('g/e')).toEqual(['d1', 'd3']);
    const changes = status.nodeDeath(NDEATH);
    expect(changes.map((c) => [c.device, c.event, c.online, c.timeMs, c.tags.kind])).toEqual([
      ['g:e', 'NDEATH', false, NOW, 'node'],
      ['g:e:d1', 'NDEATH', false, NOW, 'device'],
      ['g:e:d3', 'NDEATH', false, NOW, 'device'],
    ]);
    expect(status.onlineDevices('g/e')).toEqual([]);
    expect(status.nodeDeath(NDEATH).map((c) => c.device)).toEqual(['g:e']); // no device is online any more
  });

  it('keeps devices online across a rebirth (NBIRTH without NDEATH): the next NDEATH still takes them', () => {
    const { status } = setup();
    status.nodeBirth(NBIRTH, NOW - 100);
    status.deviceBirth(dbirth('d1'), NOW - 90);
    status.nodeBirth(NBIRTH, NOW - 80);
    expect(status.nodeDeath(NDEATH).map((c) => c.device)).toEqual(['g:e', 'g:e:d1']);
  });

  it('stamps the receive time when the payload has no timestamp or one outside the skew window', () => {
    const { status, advance } = setup();
    expect(status.nodeBirth(NBIRTH, undefined).timeMs).toBe(NOW);
    advance(1000);
    expect(status.deviceBirth(dbirth('d1'), NOW + 1000 + 10_001).timeMs).toBe(NOW + 1000); // too far ahead
    advance(1000);
    expect(status.deviceBirth(dbirth('d2'), NOW + 2000 - 60_001).timeMs).toBe(NOW + 2000); // too far back
    expect(status.deviceDeath(ddeath('d2'), NOW + 2000 + 10_000).timeMs).toBe(NOW + 12_000); // at the edge: taken
  });

  it('never stamps a change of a node before the previous one, whichever clock stamped it', () => {
    const { status, advance } = setup();
    // The node's clock is 5 s ahead of the gateway's; it dies (a will: the gateway's clock) 1 s later.
    status.nodeBirth(NBIRTH, NOW + 5000);
    status.deviceBirth(dbirth('d1'), NOW + 5001);
    advance(1000);
    expect(status.nodeDeath(NDEATH).map((c) => c.timeMs)).toEqual([NOW + 5001, NOW + 5001]);
    // Its rebirth, stamped by its clock now 3 s behind, still comes after the death.
    advance(1000);
    expect(status.nodeBirth(NBIRTH, NOW + 2000 - 3000).timeMs).toBe(NOW + 5001);
    advance(10_000);
    expect(status.deviceBirth(dbirth('d1'), NOW + 12_000).timeMs).toBe(NOW + 12_000);
  });

  it('keeps at most maxDevicesPerNode online devices per node, forgetting the oldest', () => {
    const { status } = setup(2);
    for (const d of ['d1', 'd2', 'd3']) status.deviceBirth(dbirth(d), NOW);
    status.deviceBirth(dbirth('d2'), NOW); // born again: now the newest
    status.deviceBirth(dbirth('d4'), NOW);
    expect(status.onlineDevices('g/e')).toEqual(['d2', 'd4']);
    status.forget('g/e');
    expect(status.onlineDevices('g/e')).toEqual([]);
  });
});
