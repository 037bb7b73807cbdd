import { DEVICE_ID_RULE, isValidDeviceId } from '../auth/identity.js';

/**
 * Sparkplug B topics (Sparkplug 3.0 §4.1.1):
 * `spBv1.0/{group_id}/{message_type}/{edge_node_id}[/{device_id}]`.
 *
 * Device identity. A Sparkplug edge node, or a device behind one, becomes the Sluice
 * device `{group}:{edge}` or `{group}:{edge}:{device}`. ':' joins the parts because it is
 * a device-id character ('/' is not, see identity.ts) that Sparkplug ids rarely use; to
 * keep the mapping one-to-one (two Sparkplug identities never share a Sluice id), a
 * part may only hold the device-id characters other than ':' (A-Z a-z 0-9 . _ -), and the
 * joined id must be a valid device id (at most 128 characters). Anything else is refused
 * (`sparkplug_topic_invalid`, counted and dead-lettered): Sparkplug allows any UTF-8 but
 * '/', '+' and '#' in an id (§4.1.1.1), which Sluice cannot carry as a tag unchanged.
 */

export const SPARKPLUG_NAMESPACE = 'spBv1.0';

/** The message types Sluice ingests; NCMD, DCMD and STATE are ordinary MQTT traffic. */
export type SparkplugMessageType = 'NBIRTH' | 'NDATA' | 'NDEATH' | 'DBIRTH' | 'DDATA' | 'DDEATH';
const NODE_TYPES: ReadonlySet<string> = new Set(['NBIRTH', 'NDATA', 'NDEATH']);
const DEVICE_TYPES: ReadonlySet<string> = new Set(['DBIRTH', 'DDATA', 'DDEATH']);

export interface SparkplugTopic {
  group: string;
  type: SparkplugMessageType;
  edge: string;
  /** Undefined for the node message types. */
  device: string | undefined;
  /** `{group}/{edge}`: the edge node's key for its seq, bdSeq and alias state. */
  node: string;
  /** The Sluice device id (see above). */
  deviceId: string;
}

const PART = /^[A-Za-z0-9._-]+$/;

/**
 * What a topic is to the Sparkplug ingest: undefined when it is not an ingested Sparkplug
 * message type (not under spBv1.0/, or NCMD, DCMD, STATE: left to the ACL as any topic
 * is), the parsed topic, or why an ingested type cannot be taken (a string).
 */
export function parseSparkplugTopic(topic: string): SparkplugTopic | string | undefined {
  if (!topic.startsWith(`${SPARKPLUG_NAMESPACE}/`)) return undefined;
  const levels = topic.split('/');
  const type = levels[2];
  if (type === undefined) return undefined;
  const isNode = NODE_TYPES.has(type);
  if (!isNode && !DEVICE_TYPES.has(type)) return undefined;
  const [, group, , edge, device] = levels;
  const want = isNode ? 4 : 5;
  if (levels.length !== want) return `a ${type} topic has ${want} levels (spBv1.0/{group}/${type}/{edge}${isNode ? '' : '/{device}'}), got ${levels.length}`;
  const parts: [string, string | undefined][] = [['group', group], ['edge node', edge], ['device', device]];
  for (const [what, part] of parts) {
    if (part === undefined) continue;
    if (!PART.test(part)) return `${what} id ${JSON.stringify(part)} is not 1 or more of A-Z a-z 0-9 . _ - (the Sluice device id is {group}:{edge}[:{device}])`;
  }
  const deviceId = isNode ? `${group}:${edge}` : `${group}:${edge}:${device}`;
  if (!isValidDeviceId(deviceId)) return `Sluice device id ${JSON.stringify(deviceId)} is not ${DEVICE_ID_RULE}`;
  return { group: group!, type: type as SparkplugMessageType, edge: edge!, device: isNode ? undefined : device, node: `${group}/${edge}`, deviceId };
}
