import type { Log } from '../../log/index.js';
import { decodeLogRecord, MSG_FLAG_STATUS, MSG_FLAGS_NOT_READINGS, type ColumnarBatch } from '../../proto/index.js';

/** One message as the log holds it, flattened for assertions. */
export interface LoggedMessage {
  partition: number;
  device: string;
  deviceTags: string;
  seq: number;
  readings: { metric: string; tags: string; time: number; value: number }[];
  text: { metric: string; time: number; kind: number; value: number | string }[];
}

/** One status record (docs/batch-format.md) as the log holds it. */
export interface LoggedStatus {
  partition: number;
  device: string;
  event: string;
  online: boolean;
  time: number;
  tags: string;
}

/** Every record of every partition of the log, decoded, with its partition. */
async function readBatches(log: Log): Promise<{ partition: number; batch: ColumnarBatch }[]> {
  const out: { partition: number; batch: ColumnarBatch }[] = [];
  for (let p = 0; p < log.partitions; p++) {
    // Read until a read comes back empty: offsets need not be dense, so the next one is the last record's + 1.
    for (let offset = await log.startOffset(p); ; ) {
      const records = await log.read(p, offset, 1000);
      if (records.length === 0) break;
      for (const record of records) out.push({ partition: p, batch: decodeLogRecord(record.payload) });
      offset = records[records.length - 1]!.offset + 1;
    }
  }
  return out;
}

/** Every message of readings in every partition of the log: not the ones the gateway flagged as dropped, nor status records. */
export async function readLoggedMessages(log: Log): Promise<LoggedMessage[]> {
  const out: LoggedMessage[] = [];
  for (const { partition, batch: b } of await readBatches(log)) {
    const s = b.strings;
    for (let m = 0; m < b.msgDevice.length; m++) {
      if (b.msgFlags[m]! & MSG_FLAGS_NOT_READINGS) continue;
      const numFrom = m === 0 ? 0 : b.numEnd[m - 1]!;
      const textFrom = m === 0 ? 0 : b.textEnd[m - 1]!;
      const readings = [];
      for (let r = numFrom; r < b.numEnd[m]!; r++) {
        readings.push({ metric: s[b.metric[r]!]!, tags: s[b.tags[r]!]!, time: b.time[r]!, value: b.value[r]! });
      }
      const text = [];
      for (let r = textFrom; r < b.textEnd[m]!; r++) {
        const kind = b.textKind[r]!;
        text.push({ metric: s[b.textMetric[r]!]!, time: b.textTime[r]!, kind, value: kind === 2 ? s[b.textValue[r]!]! : b.textValue[r]! });
      }
      out.push({ partition, device: s[b.msgDevice[m]!]!, deviceTags: s[b.msgDeviceTags[m]!]!, seq: b.msgSeq[m]!, readings, text });
    }
  }
  return out;
}

/** Every status record in the log, partition by partition, each in log order. */
export async function readLoggedStatus(log: Log): Promise<LoggedStatus[]> {
  const out: LoggedStatus[] = [];
  for (const { partition, batch: b } of await readBatches(log)) {
    const s = b.strings;
    for (let m = 0; m < b.msgDevice.length; m++) {
      if ((b.msgFlags[m]! & MSG_FLAG_STATUS) === 0) continue;
      const r = m === 0 ? 0 : b.textEnd[m - 1]!;
      out.push({ partition, device: s[b.msgDevice[m]!]!, event: s[b.textMetric[r]!]!, online: b.textValue[r] === 1, time: b.textTime[r]!, tags: s[b.textTags[r]!]! });
    }
  }
  return out;
}
