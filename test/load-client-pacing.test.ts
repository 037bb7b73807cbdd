import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import hdr from 'hdr-histogram-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ReadingBatch } from '../proto/index.js';
import { LoadClient, withSeqSlot } from '../bench/load-client.js';

// The bench's paced load (`sluice bench --mode load --rate`) against a real aedes over TCP:
// it sends what has come due and no more, never past its window, and counts what it sheds.
describe('LoadClient paced', () => {
  let broker: Aedes;
  let server: Server;
  let port: number;
  const payload = withSeqSlot(ReadingBatch.encode({ readings: [{ metric: 'temperature', timeUnixMs: 1_700_000_000_000, doubleValue: 21.5 }] }).finish());
  const histogram = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });

  beforeAll(async () => {
    broker = await Aedes.createBroker();
    server = createServer(broker.handle);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.close();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
  });

  it('sends the publishes due by each offer, at most the window in flight, the rest as PUBACKs free it, and then stops', async () => {
    const latency = histogram();
    const client = await LoadClient.open(port, 'paced-1', 'devices/paced-1/telemetry', payload, 4, latency, true);
    client.startPaced(1000, 0); // one a millisecond from t = 0
    client.offer(10);
    expect(client.sent).toBe(4);
    await vi.waitFor(() => expect(client.acked).toBe(10));
    // A closed loop would have gone on sending on each PUBACK.
    expect(client.sent).toBe(10);
    expect(latency.totalCount).toBe(10);
    client.offer(10.9); // nothing more due yet
    expect(client.sent).toBe(10);
    client.offer(12);
    await vi.waitFor(() => expect(client.acked).toBe(12));
    expect(client.sent).toBe(12);
    expect(client.shed).toBe(0);
    client.stop();
    await client.drained();
    client.close();
  });

  it('starts a sender part-way into its period when given a phase, so a fleet is not in step', async () => {
    const client = await LoadClient.open(port, 'paced-3', 'devices/paced-3/telemetry', payload, 4, histogram(), true);
    client.startPaced(1, 0, 0.75); // once a second, three quarters of the first second already gone
    client.offer(240);
    expect(client.sent).toBe(0);
    client.offer(260);
    expect(client.sent).toBe(1);
    await vi.waitFor(() => expect(client.acked).toBe(1));
    client.offer(1240);
    expect(client.sent).toBe(1);
    client.offer(1260);
    expect(client.sent).toBe(2);
    expect(() => client.startPaced(1, 0, 1)).toThrow(/phase must be in \[0, 1\)/);
    client.stop();
    await client.drained();
    client.close();
  });

  it("records how long after coming due each publish was first offered: the generator's own lateness, apart from the broker's", async () => {
    const lags: number[] = [];
    const client = await LoadClient.open(port, 'paced-4', 'devices/paced-4/telemetry', payload, 100, histogram(), true);
    // One due each ms from t = 0; offered at 30 ms (as if the generator had stalled), then at 32.
    client.startPaced(1000, 0, 0, { recordValue: (us) => lags.push(us) });
    client.offer(30);
    expect(lags).toHaveLength(30);
    expect(Math.max(...lags)).toBe(29_000); // the first came due at 1 ms
    expect(Math.min(...lags)).toBe(1); // the last at 30 ms, offered at once (1 µs is the floor)
    client.offer(32);
    expect(lags.slice(30)).toEqual([1000, 1]);
    expect(client.sent).toBe(32); // all within the window: the lag was the generator's alone
    client.stop();
    await client.drained();
    client.close();
  });

  it('sheds, and counts, what comes due while its backlog is full', async () => {
    const client = await LoadClient.open(port, 'paced-2', 'devices/paced-2/telemetry', payload, 4, histogram(), true);
    client.startPaced(1_000_000, 0);
    client.offer(10); // 10 000 due: 4 sent, 8 192 waiting (the backlog), 1 808 shed
    expect(client.sent).toBe(4);
    expect(client.shed).toBe(10_000 - 8192);
    client.stop();
    await client.drained();
    expect(client.sent).toBe(4);
    client.close();
  });
});
