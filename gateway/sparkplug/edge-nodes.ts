import { decodeSparkplugPayload, peekSparkplugSeq, type DecodedSparkplugPayload } from '../../proto/index.js';
import { aliasTableJob, BIRTH_JOB, isReadingMetric, type DeviceStatusChange, type SparkplugJob } from '../decode/index.js';
import { SparkplugNodeStatus } from './node-status.js';
import type { SparkplugTopic } from './topic.js';

/**
 * The Sparkplug B state of each edge node, on the main thread, updated in arrival order
 * (authorizePublish): its bdSeq, its last seq, and the alias table of its NBIRTH and of
 * each device's DBIRTH, as the job strings the decode worker resolves aliases with
 * (gateway/decode/sparkplug-payload.ts). Births are decoded here, once each; data
 * messages only have their seq skimmed (peekSparkplugSeq), their metrics are the worker's.
 *
 * seq (Sparkplug 3.0 §6.4.5 / §7.2): 0–255 per edge node across all its messages but
 * NDEATH, wrapping; NBIRTH sets it. A message whose seq is not the last + 1 (mod 256),
 * has none, or comes before any NBIRTH since the gateway started, is a gap: the message is
 * still ingested (its aliases are those of the births seen) and a rebirth is requested.
 * The wrapping seq never reaches the processors' de-duplication (readings carry seq 0,
 * never de-duplicated): after a wrap dedup would drop real data. A derived monotonic seq
 * would have to survive gateway restarts to be sound, and Sparkplug publishes NBIRTH,
 * NDATA, DBIRTH, DDATA at QoS 0 (§4.2), so there is no MQTT re-send to de-duplicate; a
 * QoS 1 publisher's re-send after a lost PUBACK is counted twice.
 *
 * bdSeq (§7.1): NBIRTH's `bdSeq` metric; an NDEATH (usually the node's will) whose bdSeq
 * is not the current birth's is a stale death of an earlier session and changes nothing.
 *
 * Status: the births taken and the deaths not stale are also device status changes
 * (node-status.ts), which the caller takes after each admit (takeStatusChanges) and sends
 * through the log.
 */
/** Why a rebirth is requested: a metric label value. */
export type RebirthReason = 'seq' | 'no_birth' | 'alias_unknown';

export interface EdgeNodesOptions {
  /** Sends `Node Control/Rebirth` to the edge node (rebirth.ts); called at most once per rebirthIntervalMs per node. `why` is for the log. */
  requestRebirth(group: string, edge: string, reason: RebirthReason, why: string): void;
  /** Default 5000 ms. */
  rebirthIntervalMs?: number;
  now?: () => number;
  /** decode.timestampSkewPastMs and timestampSkewFutureMs: the window a payload timestamp must be in to stamp a status change (node-status.ts). Default 7 days and 10 s, as decode's. */
  timestampSkewPastMs?: number;
  timestampSkewFutureMs?: number;
}

interface NodeState {
  bdSeq: number | undefined;
  /** The last seq seen, undefined before NBIRTH. */
  lastSeq: number | undefined;
  /** The job for NDATA: NBIRTH's alias table (or none, before NBIRTH). */
  node: SparkplugJob;
  /** The job for DDATA per device: its DBIRTH's alias table, or none. */
  devices: Map<string, SparkplugJob>;
}

const BIRTH: SparkplugJob = { sparkplug: BIRTH_JOB };

/**
 * Groups one edge id may hold state in at once. An edge node authenticates by its edge id
 * but may name any group in its topics; past this, its oldest group's state is forgotten
 * (its next data asks for a rebirth), so cycling through group names costs only its own.
 */
export const MAX_GROUPS_PER_EDGE = 16;
/** Devices one edge node may hold birth state for at once; past this, the oldest is forgotten. */
export const MAX_DEVICES_PER_NODE = 10_000;

export class EdgeNodes {
  private readonly nodes = new Map<string, NodeState>();
  /** Per node key, when a rebirth was last requested: kept across births and deaths. */
  private readonly rebirthAt = new Map<string, number>();
  /** Per edge id, the node keys (`{group}/{edge}`) it holds state for, oldest first. */
  private readonly groupsOf = new Map<string, string[]>();
  private tableIds = 0;
  private readonly interval: number;
  private readonly now: () => number;
  private readonly status: SparkplugNodeStatus;
  /** Status changes of the last admit, until taken. */
  private changes: DeviceStatusChange[] = [];

  constructor(private readonly o: EdgeNodesOptions) {
    this.interval = o.rebirthIntervalMs ?? 5000;
    this.now = o.now ?? Date.now;
    this.status = new SparkplugNodeStatus({
      now: this.now,
      timestampSkewPastMs: o.timestampSkewPastMs ?? 7 * 86_400_000,
      timestampSkewFutureMs: o.timestampSkewFutureMs ?? 10_000,
      maxDevicesPerNode: MAX_DEVICES_PER_NODE,
    });
  }

  /**
   * The device status changes of the last admit() (births taken, deaths not stale), in
   * order, and forgets them: call after every admit. Empty for data messages.
   */
  takeStatusChanges(): readonly DeviceStatusChange[] {
    if (this.changes.length === 0) return NO_CHANGES;
    const taken = this.changes;
    this.changes = [];
    return taken;
  }

  /**
   * Takes one publish in arrival order; returns the job kind for the decode worker, or
   * undefined when there is nothing to ingest (deaths, and births with no data metrics).
   */
  admit(t: SparkplugTopic, payload: Uint8Array): SparkplugJob | undefined {
    switch (t.type) {
      case 'NBIRTH': {
        const birth = tryDecode(payload);
        if (birth === undefined) return BIRTH; // the worker refuses it, with the reason
        const seq = Object.hasOwn(birth, 'seq') ? birth.seq : undefined;
        const bdSeq = birth.metrics.find((m) => m.name === 'bdSeq');
        this.track(t);
        this.nodes.set(t.node, { bdSeq: bdSeq?.longValue, lastSeq: seq, node: this.tableJob(t, t.node, birth), devices: new Map() });
        // 3.0 allows any seq 0–255 in NBIRTH (2.2 said 0); the next message follows it.
        if (seq === undefined) this.rebirth(t, 'seq', 'NBIRTH without a seq');
        this.changes.push(this.status.nodeBirth(t, timestampOf(birth)));
        return birth.metrics.some(isReadingMetric) ? BIRTH : undefined;
      }
      case 'DBIRTH': {
        const n = this.node(t);
        const birth = tryDecode(payload);
        this.checkSeq(t, n, birth === undefined ? undefined : Object.hasOwn(birth, 'seq') ? birth.seq : undefined);
        if (birth === undefined) return BIRTH;
        n.devices.delete(t.device!);
        n.devices.set(t.device!, this.tableJob(t, `${t.node}/${t.device}`, birth));
        if (n.devices.size > MAX_DEVICES_PER_NODE) n.devices.delete(n.devices.keys().next().value!);
        this.changes.push(this.status.deviceBirth(t, timestampOf(birth)));
        return birth.metrics.some(isReadingMetric) ? BIRTH : undefined;
      }
      case 'NDATA':
      case 'DDATA': {
        const n = this.node(t);
        this.checkSeq(t, n, peekSparkplugSeq(payload));
        if (t.type === 'NDATA') return n.node;
        let job = n.devices.get(t.device!);
        if (job === undefined) {
          n.devices.set(t.device!, (job = this.tableJob(t, `${t.node}/${t.device}`, undefined)));
          if (n.devices.size > MAX_DEVICES_PER_NODE) n.devices.delete(n.devices.keys().next().value!);
        }
        return job;
      }
      case 'NDEATH': {
        const n = this.nodes.get(t.node);
        const bdSeq = tryDecode(payload)?.metrics.find((m) => m.name === 'bdSeq')?.longValue;
        if (n !== undefined && (n.bdSeq === undefined || bdSeq === n.bdSeq)) {
          this.nodes.delete(t.node);
          this.changes.push(...this.status.nodeDeath(t));
        }
        return undefined;
      }
      case 'DDEATH': {
        const n = this.node(t);
        this.checkSeq(t, n, peekSparkplugSeq(payload));
        n.devices.delete(t.device!);
        // A DDEATH that does not decode still says the device is gone: at the receive time.
        const death = tryDecode(payload);
        this.changes.push(this.status.deviceDeath(t, death === undefined ? undefined : timestampOf(death)));
        return undefined;
      }
    }
  }

  /** Whether the gateway holds a birth for the edge node (`{group}/{edge}`). */
  isBorn(node: string): boolean {
    return this.nodes.get(node)?.lastSeq !== undefined;
  }

  private node(t: SparkplugTopic): NodeState {
    let n = this.nodes.get(t.node);
    if (n === undefined) {
      this.track(t);
      this.nodes.set(t.node, (n = { bdSeq: undefined, lastSeq: undefined, node: this.tableJob(t, t.node, undefined), devices: new Map() }));
    }
    return n;
  }

  /** Notes that the edge id holds state for t.node; forgets its oldest group past MAX_GROUPS_PER_EDGE. */
  private track(t: SparkplugTopic): void {
    let groups = this.groupsOf.get(t.edge);
    if (groups === undefined) this.groupsOf.set(t.edge, (groups = []));
    if (groups.includes(t.node)) return;
    groups.push(t.node);
    if (groups.length > MAX_GROUPS_PER_EDGE) {
      const oldest = groups.shift()!;
      this.nodes.delete(oldest);
      this.rebirthAt.delete(oldest);
      this.status.forget(oldest);
    }
  }

  /** Node keys with state (births, seq or rebirth times), for tests of the bounds. */
  get trackedNodes(): number {
    return new Set([...this.nodes.keys(), ...this.rebirthAt.keys()]).size;
  }

  /** Devices with birth state under `node`. */
  devicesOf(node: string): number {
    return this.nodes.get(node)?.devices.size ?? 0;
  }

  /** Sparkplug device ids online under `node` (born, not dead since), for tests. */
  onlineDevicesOf(node: string): string[] {
    return this.status.onlineDevices(node);
  }

  private checkSeq(t: SparkplugTopic, n: NodeState, seq: number | undefined): void {
    const last = n.lastSeq;
    if (seq === undefined) this.rebirth(t, 'seq', `${t.type} without a seq`);
    else if (last === undefined) this.rebirth(t, 'no_birth', `${t.type} before any NBIRTH since the gateway started`);
    else if (seq !== (last + 1) % 256) this.rebirth(t, 'seq', `${t.type} seq ${seq} after ${last}: expected ${(last + 1) % 256}`);
    if (seq !== undefined && last !== undefined) n.lastSeq = seq;
  }

  /** The job for data under a birth (or under none yet), telling this node of unknown aliases. */
  private tableJob(t: SparkplugTopic, scope: string, birth: DecodedSparkplugPayload | undefined): SparkplugJob {
    const metrics = birth?.metrics.map((m) => ({ alias: Object.hasOwn(m, 'alias') ? m.alias : undefined, name: m.name, datatype: m.datatype }));
    return {
      sparkplug: aliasTableJob(++this.tableIds, scope, metrics),
      onRefused: (reason) => {
        if (reason === 'sparkplug_alias_unknown') this.rebirth(t, 'alias_unknown', `unknown alias in ${scope}`);
      },
    };
  }

  private rebirth(t: SparkplugTopic, reason: RebirthReason, why: string): void {
    const now = this.now();
    if (now - (this.rebirthAt.get(t.node) ?? -Infinity) < this.interval) return;
    this.rebirthAt.set(t.node, now);
    this.o.requestRebirth(t.group, t.edge, reason, why);
  }
}

const NO_CHANGES: readonly DeviceStatusChange[] = [];

/** A payload's timestamp, undefined when it has none. */
function timestampOf(p: DecodedSparkplugPayload): number | undefined {
  return Object.hasOwn(p, 'timestamp') ? p.timestamp : undefined;
}

function tryDecode(payload: Uint8Array): DecodedSparkplugPayload | undefined {
  try {
    return decodeSparkplugPayload(payload);
  } catch {
    return undefined;
  }
}
