import type { Log } from '../../log/index.js';
import { decodeLogRecord, MSG_FLAG_DROPPED } from '../../proto/index.js';

/** One message as the log holds it, flattened for assertions. */
export interface LoggedMessage {
  partition: number;
  device: string;
  deviceTags: string;
  seq: number;
  readings: { metric: string; tags: string; time: number; value: number }[];
  text: { metric: string; time: number; kind: number; value: number | string }[];
}

/** Every message in every partition of the log, skipping ones the gateway flagged as dropped. */
export async function readLoggedMessages(log: Log): Promise<LoggedMessage[]> {
  const out: LoggedMessage[] = [];
  for (let p = 0; p < log.partitions; p++) {
    // Read until a read comes back empty: offsets need not be dense, so the next one is the last record's + 1.
    for (let offset = await log.startOffset(p); ; ) {
      const records = await log.read(p, offset, 1000);
      if (records.length === 0) break;
      for (const record of records) {
        const b = decodeLogRecord(record.payload);
        const s = b.strings;
        for (let m = 0; m < b.msgDevice.length; m++) {
          if (b.msgFlags[m]! & MSG_FLAG_DROPPED) continue;
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
          out.push({ partition: p, device: s[b.msgDevice[m]!]!, deviceTags: s[b.msgDeviceTags[m]!]!, seq: b.msgSeq[m]!, readings, text });
        }
      }
      offset = records[records.length - 1]!.offset + 1;
    }
  }
  return out;
}
