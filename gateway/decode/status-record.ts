import { encodeTagSet, MSG_FLAG_STATUS, TEXT_KIND_BOOL, type ColumnarBatchBuilder } from '../../proto/index.js';
import type { DecodeContext, PayloadOutcome } from './payload-decoder.js';
import { REASON_CODE } from './reasons.js';

/**
 * A device status change on its way to the log: a status record (docs/batch-format.md,
 * MSG_FLAG_STATUS), which the processors write to `device_status`. The main thread decides
 * everything (gateway/sparkplug/node-status.ts: which device, online or not, the time), so
 * a replay of the log writes the same point; the worker only writes it into the partition's
 * batch, in arrival order with the device's readings, through the same micro-batch, append
 * and PUBACK as they.
 */
export interface DeviceStatusChange {
  /** The Sluice device id whose status changed. */
  device: string;
  /** What changed it: a metric-name-safe word (`NBIRTH`, `NDEATH`, `DBIRTH`, `DDEATH`). */
  event: string;
  online: boolean;
  /** Unix ms. */
  timeMs: number;
  /** The status point's own tags (e.g. group, edge, kind). */
  tags: Record<string, string>;
}

/** A decode job entry for a status change: `status` is its job string (statusJob). */
export interface StatusJob {
  status: string;
}

/** The job string of a status change: `{1|0}\n{timeMs}\n{event}\n{canonical tags}` (the device travels as every message's does). */
export function statusJob(change: DeviceStatusChange): StatusJob {
  return { status: `${change.online ? 1 : 0}\n${change.timeMs}\n${change.event}\n${encodeTagSet(change.tags)}` };
}

const ACCEPTED: PayloadOutcome = { reason: REASON_CODE.accepted, readings: 0, metrics: [], series: [] };

/**
 * Writes a status record into `builder` as one message. Its payload bytes are not read (the
 * publish that caused it, or none). No readings: it counts toward no reading counter,
 * cardinality guard or flow limit.
 */
export function writeStatusRecord(job: string, ctx: DecodeContext, builder: ColumnarBatchBuilder): PayloadOutcome {
  const [online, time, event, tags] = job.split('\n');
  if (tags === undefined) throw new Error(`not a status job: ${JSON.stringify(job)}`);
  builder.beginMessage(ctx.deviceIdx, ctx.deviceTagsIdx, 0);
  builder.addText(builder.intern(event!), builder.intern(tags), Number(time), TEXT_KIND_BOOL, online === '1' ? 1 : 0);
  builder.flagMessage(MSG_FLAG_STATUS);
  return ACCEPTED;
}
