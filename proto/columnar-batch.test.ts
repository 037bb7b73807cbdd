import { describe, expect, it } from 'vitest';
import { ColumnarBatchBuilder, decodeColumnarBatch, msgFlagsOffset, MSG_FLAG_DROPPED, MSG_FLAG_STATUS, TEXT_KIND_BOOL, TEXT_KIND_STRING } from './index.js';

function sample(): ColumnarBatchBuilder {
  const b = new ColumnarBatchBuilder(7, 1_700_000_000_123);
  const dev = b.intern('dev-1');
  const tags = b.intern('site=oslo');
  b.beginMessage(dev, tags, 41);
  b.addNumeric(b.intern('temp'), 0, 1_700_000_000_000, 21.5);
  b.addNumeric(b.intern('temp'), 0, 1_700_000_000_001, -3);
  b.addText(b.intern('state'), b.intern('k=v'), 1_700_000_000_002, TEXT_KIND_STRING, b.intern('ok'));
  b.beginMessage(b.intern('dev-2'), 0, 2 ** 53 - 1);
  b.addNumeric(b.intern('hum'), 0, 5, 0.25);
  return b;
}

describe('columnar batch', () => {
  it('round-trips every column', () => {
    const decoded = decodeColumnarBatch(sample().encode());
    const s = decoded.strings;
    expect(decoded.partition).toBe(7);
    expect(decoded.receivedAtMs).toBe(1_700_000_000_123);
    expect([...decoded.msgDevice].map((i) => s[i])).toEqual(['dev-1', 'dev-2']);
    expect([...decoded.msgDeviceTags].map((i) => s[i])).toEqual(['site=oslo', '']);
    expect([...decoded.msgSeq]).toEqual([41, 2 ** 53 - 1]);
    expect([...decoded.numEnd]).toEqual([2, 3]);
    expect([...decoded.textEnd]).toEqual([1, 1]);
    expect([...decoded.metric].map((i) => s[i])).toEqual(['temp', 'temp', 'hum']);
    expect([...decoded.time]).toEqual([1_700_000_000_000, 1_700_000_000_001, 5]);
    expect([...decoded.value]).toEqual([21.5, -3, 0.25]);
    expect(s[decoded.textValue[0]!]).toBe('ok');
    expect(s[decoded.textTags[0]!]).toBe('k=v');
    expect([...decoded.msgFlags]).toEqual([0, 0]);
  });

  it('lets a flag be set in place at msgFlagsOffset', () => {
    const bytes = sample().encode();
    bytes[msgFlagsOffset(bytes) + 1] = MSG_FLAG_DROPPED;
    expect([...decodeColumnarBatch(bytes).msgFlags]).toEqual([0, MSG_FLAG_DROPPED]);
  });

  it('flags a message in the builder, and forgets the flag of an aborted one', () => {
    const b = sample();
    b.beginMessage(b.intern('plant:edge1'), 0, 0);
    b.addText(b.intern('NBIRTH'), b.intern('edge=edge1,group=plant,kind=node'), 7, TEXT_KIND_BOOL, 1);
    b.flagMessage(MSG_FLAG_STATUS);
    b.beginMessage(b.intern('dev-3'), 0, 1);
    b.flagMessage(MSG_FLAG_STATUS);
    b.abortMessage();
    b.beginMessage(b.intern('dev-4'), 0, 2);
    b.addNumeric(b.intern('x'), 0, 1, 1);
    const decoded = decodeColumnarBatch(b.encode());
    expect([...decoded.msgDevice].map((i) => decoded.strings[i])).toEqual(['dev-1', 'dev-2', 'plant:edge1', 'dev-4']);
    expect([...decoded.msgFlags]).toEqual([0, 0, MSG_FLAG_STATUS, 0]);
    b.reset(7, 1);
    b.beginMessage(b.intern('dev-5'), 0, 1);
    expect([...b.build().msgFlags]).toEqual([0]);
  });

  it('drops an aborted message and its readings', () => {
    const b = sample();
    b.beginMessage(b.intern('dev-3'), 0, 1);
    b.addNumeric(b.intern('x'), 0, 1, 1);
    b.abortMessage();
    const decoded = decodeColumnarBatch(b.encode());
    expect(decoded.msgDevice.length).toBe(2);
    expect(decoded.value.length).toBe(3);
  });

  it('decodes from a misaligned buffer and refuses a truncated one', () => {
    const bytes = sample().encode();
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect([...decodeColumnarBatch(shifted.subarray(1)).value]).toEqual([21.5, -3, 0.25]);
    expect(() => decodeColumnarBatch(bytes.subarray(0, bytes.length - 9))).toThrow(/truncated/);
    expect(() => decodeColumnarBatch(new Uint8Array(48))).toThrow(/magic/);
  });
});
