import type { DeviceStatusChange } from '../decode/index.js';
import type { SparkplugTopic } from './topic.js';

/**
 * Sparkplug B births and deaths as device status changes (README "Sparkplug B"), decided on
 * the main thread in arrival order and sent through the log as status records, which the
 * processors write to `device_status` (tags device, group, edge, kind; fields online 1|0,
 * event). EdgeNodes calls this for the births it took and the deaths it did not find stale.
 *
 * - NBIRTH: the edge node `{group}:{edge}` online; DBIRTH: the device `{group}:{edge}:{device}`
 *   online; DDEATH: that device offline.
 * - NDEATH: the edge node offline, and every device of it online (born, not dead since)
 *   offline too: a node's death implies its devices' (Sparkplug 3.0 §5.5,
 *   [tck-id-operational-behavior-edge-node-termination-host-action-ndeath-devices-offline]).
 *   A device stays online across an NBIRTH without an NDEATH (a rebirth): its DBIRTH follows.
 *
 * Time. NDEATH: the receive time: the host application's own clock, as the spec asks
 * ([tck-id-operational-behavior-edge-node-termination-host-action-ndeath-node-offline]); the
 * NDEATH is usually the MQTT will, whose payload was written at CONNECT. DDEATH: its payload's
 * timestamp ([tck-id-operational-behavior-edge-node-termination-host-action-ddeath-devices-offline]),
 * births likewise; a payload without one, or with one outside the readings' window
 * (decode.timestampSkewPastMs / timestampSkewFutureMs around the receive time), gets the
 * receive time. Two clocks stamp one node's changes (its own and the gateway's), so a
 * change is never stamped before the previous change of that node or its devices: a death
 * right after a birth from a clock ahead would otherwise sort before it, and the last
 * status would read online. The log keeps each change with its time, so a replay writes
 * the same points.
 *
 * Bounded like EdgeNodes: a node's online devices at most `maxDevicesPerNode` (past that
 * the oldest is forgotten, and a later NDEATH does not mark it offline); a node's state is
 * forgotten with the group EdgeNodes forgets.
 */

export type SparkplugStatusEvent = 'NBIRTH' | 'NDEATH' | 'DBIRTH' | 'DDEATH';

export interface NodeStatusOptions {
  now: () => number;
  /** decode.timestampSkewPastMs: how far before the receive time a payload timestamp may be. */
  timestampSkewPastMs: number;
  /** decode.timestampSkewFutureMs: how far after it. */
  timestampSkewFutureMs: number;
  maxDevicesPerNode: number;
}

interface NodeStatus {
  /** Sparkplug device ids online under the node, oldest first. */
  online: Set<string>;
  /** The latest time given to a change of the node or its devices. */
  at: number;
}

export class SparkplugNodeStatus {
  private readonly nodes = new Map<string, NodeStatus>();

  constructor(private readonly o: NodeStatusOptions) {}

  /** NBIRTH taken: the node is online. `payloadTime`: the payload's timestamp, undefined when absent. */
  nodeBirth(t: SparkplugTopic, payloadTime: number | undefined): DeviceStatusChange {
    const n = this.state(t.node);
    return change(t.deviceId, 'NBIRTH', true, this.stamp(n, payloadTime), t, 'node');
  }

  /** DBIRTH taken: the device is online. */
  deviceBirth(t: SparkplugTopic, payloadTime: number | undefined): DeviceStatusChange {
    const n = this.state(t.node);
    n.online.delete(t.device!);
    n.online.add(t.device!);
    if (n.online.size > this.o.maxDevicesPerNode) n.online.delete(n.online.values().next().value!);
    return change(t.deviceId, 'DBIRTH', true, this.stamp(n, payloadTime), t, 'device');
  }

  /** DDEATH: the device is offline. */
  deviceDeath(t: SparkplugTopic, payloadTime: number | undefined): DeviceStatusChange {
    const n = this.state(t.node);
    n.online.delete(t.device!);
    return change(t.deviceId, 'DDEATH', false, this.stamp(n, payloadTime), t, 'device');
  }

  /** NDEATH of the current birth: the node and every device of it online go offline, at the receive time. */
  nodeDeath(t: SparkplugTopic): DeviceStatusChange[] {
    const n = this.state(t.node);
    const time = this.stamp(n, undefined);
    const out = [change(t.deviceId, 'NDEATH', false, time, t, 'node')];
    for (const device of n.online) out.push(change(`${t.deviceId}:${device}`, 'NDEATH', false, time, t, 'device'));
    n.online.clear();
    return out;
  }

  /** Forgets a node (`{group}/{edge}`), as EdgeNodes forgets its group. */
  forget(node: string): void {
    this.nodes.delete(node);
  }

  /** Devices online under `node`, for tests. */
  onlineDevices(node: string): string[] {
    return [...(this.nodes.get(node)?.online ?? [])];
  }

  private state(node: string): NodeStatus {
    let n = this.nodes.get(node);
    if (n === undefined) this.nodes.set(node, (n = { online: new Set(), at: -Infinity }));
    return n;
  }

  /** The change's time: the payload's when present and sane, else the receive time; never before the node's last change. */
  private stamp(n: NodeStatus, payloadTime: number | undefined): number {
    const received = this.o.now();
    const sane = payloadTime !== undefined && payloadTime >= received - this.o.timestampSkewPastMs && payloadTime <= received + this.o.timestampSkewFutureMs;
    const time = Math.max(sane ? payloadTime : received, n.at);
    n.at = time;
    return time;
  }
}

function change(device: string, event: SparkplugStatusEvent, online: boolean, timeMs: number, t: SparkplugTopic, kind: 'node' | 'device'): DeviceStatusChange {
  return { device, event, online, timeMs, tags: { group: t.group, edge: t.edge, kind } };
}
