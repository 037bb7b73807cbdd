import { SparkplugDataType, SparkplugPayload } from '../../proto/index.js';
import { SPARKPLUG_NAMESPACE } from './topic.js';

/** The NCMD topic of an edge node (Sparkplug 3.0 §4.1.1). */
export function ncmdTopic(group: string, edge: string): string {
  return `${SPARKPLUG_NAMESPACE}/${group}/NCMD/${edge}`;
}

/**
 * The rebirth request (Sparkplug 3.0 §6.4.x, "Node Control/Rebirth"): an NCMD payload whose
 * one metric, `Node Control/Rebirth`, is Boolean true. The edge node answers with a new
 * NBIRTH and a DBIRTH per device. NCMD carries no seq.
 */
export function encodeRebirthRequest(nowMs: number): Uint8Array {
  return SparkplugPayload.encode({
    timestamp: nowMs,
    metrics: [{ name: 'Node Control/Rebirth', timestamp: nowMs, datatype: SparkplugDataType.Boolean, booleanValue: true }],
  }).finish();
}
