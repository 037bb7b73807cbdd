import { createHmac } from 'node:crypto';
import { DeviceConnection } from '../device-connection.js';
import type { PlannedMessage } from '../fleet-plan.js';
import type { SimulationOptions } from '../options.js';
import { encodeMessage } from '../payloads.js';
import type { ExpectedModel } from '../simulation.js';
import type { AnomalyPlan } from './episodes.js';

/** Event time sent between two waits for every PUBACK. */
const SLICE_MS = 10_000;

/**
 * Sends the episodes of `plan` before the fleet's run: one connection per episode device,
 * the messages in event-time order, 10 s of event time at a time, waiting for every
 * PUBACK (the gateway acknowledges after the log append) before the next slice. So each
 * partition's log holds the episodes in event-time order across devices, give or take a
 * slice, and the silent meter's neighbour has moved the partition on before the meter
 * speaks again. Each valid message goes to `expected` once, in order.
 */
export async function sendEpisodes(plan: AnomalyPlan, options: SimulationOptions, expected: ExpectedModel, password?: (id: string) => string | undefined): Promise<{ messages: number; readings: number; duplicates: number }> {
  const url = new URL(options.url.split(',')[0]!);
  const stats = { messages: 0, readings: 0, duplicates: 0 };
  let closing = false;
  const reopen = (c: DeviceConnection): void => {
    if (!closing) c.open().catch(() => setTimeout(() => reopen(c), 200).unref());
  };
  const connections: DeviceConnection[] = plan.devices.map(
    (dev, d) =>
      new DeviceConnection(
        {
          host: url.hostname,
          port: Number(url.port || 1883),
          clientId: dev.id,
          password: password?.(dev.id) ?? (options.fleetKey === undefined ? undefined : createHmac('sha256', options.fleetKey).update(dev.id).digest('hex')),
          qos: 1,
          inflight: 16,
        },
        // A dropped connection reopens; its unacknowledged publishes go again, flagged dup.
        { acked: () => undefined, dropped: () => setTimeout(() => reopen(connections[d]!), 100).unref(), resent: () => undefined },
      ),
  );
  try {
    await Promise.all(connections.map((c) => c.open()));
    const messages = plan.messages();
    let sliceEnd = plan.baseMs + SLICE_MS;
    for (const m of messages) {
      if (m.time[0]! >= sliceEnd) {
        await Promise.all(connections.map((c) => c.idle()));
        sliceEnd += SLICE_MS;
      }
      send(m);
    }
    await Promise.all(connections.map((c) => c.idle()));
  } finally {
    closing = true;
    for (const c of connections) c.close();
  }
  return stats;

  function send(m: PlannedMessage): void {
    const dev = plan.devices[m.device]!;
    expected.message?.(dev.id);
    for (let j = 0; j < m.time.length; j++) expected.add(dev.id, dev.metrics[m.metric[j]!]!, m.time[j]!, m.value[j]!);
    const encoded = encodeMessage(m, dev.metrics, options.shape);
    const topic = `devices/${dev.id}/telemetry${encoded.json ? '/json' : ''}`;
    for (let c = 0; c < (m.duplicate ? 2 : 1); c++) connections[m.device]!.send(topic, encoded.payload);
    stats.messages++;
    stats.readings += m.time.length;
    if (m.duplicate) stats.duplicates++;
  }
}
