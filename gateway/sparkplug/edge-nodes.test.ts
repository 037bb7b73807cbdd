import { describe, expect, it } from 'vitest';
import { SparkplugDataType as T, SparkplugPayload, type SparkplugPayloadProps } from '../../proto/index.js';
import { BIRTH_JOB } from '../decode/index.js';
import { EdgeNodes, MAX_DEVICES_PER_NODE, MAX_GROUPS_PER_EDGE } from './edge-nodes.js';
import { encodeRebirthRequest } from './rebirth.js';
import { parseSparkplugTopic, type SparkplugTopic } from './topic.js';

const topic = (t: string): SparkplugTopic => parseSparkplugTopic(t) as SparkplugTopic;
const bytes = (p: SparkplugPayloadProps): Uint8Array => SparkplugPayload.encode(p).finish();
const NBIRTH = topic('spBv1.0/g/NBIRTH/e');
const NDATA = topic('spBv1.0/g/NDATA/e');
const NDEATH = topic('spBv1.0/g/NDEATH/e');
const DBIRTH = topic('spBv1.0/g/DBIRTH/e/d1');
const DDATA = topic('spBv1.0/g/DDATA/e/d1');
const DDEATH = topic('spBv1.0/g/DDEATH/e/d1');

function setup(intervalMs = 0) {
  let now = 1000;
  const rebirths: string[] = [];
  const nodes = new EdgeNodes({ requestRebirth: (group, edge, reason, why) => rebirths.push(`${group}/${edge}: ${reason}: ${why}`), rebirthIntervalMs: intervalMs, now: () => now });
  const birth = (seq: number, bdSeq = 1) =>
    nodes.admit(NBIRTH, bytes({ seq, metrics: [{ name: 'bdSeq', datatype: T.UInt64, longValue: bdSeq }, { name: 'Temp', alias: 1, datatype: T.Double, doubleValue: 1 }] }));
  const data = (t: SparkplugTopic, seq?: number) => nodes.admit(t, bytes(seq === undefined ? { metrics: [{ alias: 1, doubleValue: 2 }] } : { seq, metrics: [{ alias: 1, doubleValue: 2 }] }));
  return { nodes, rebirths, birth, data, advance: (ms: number) => (now += ms) };
}

describe('EdgeNodes: births and alias tables', () => {
  it('ingests a birth by name and gives data the birth\'s alias table', () => {
    const { nodes, birth, data, rebirths } = setup();
    expect(birth(0)).toEqual({ sparkplug: BIRTH_JOB });
    const job = data(NDATA, 1)!;
    expect(job.sparkplug).toMatch(/^D\d+\ng\/e\n\[\[-1,"bdSeq",8\],\[1,"Temp",10\]\]$/);
    expect(data(NDATA, 2)).toBe(job); // the same string per birth: a job interns it once
    expect(nodes.isBorn('g/e')).toBe(true);
    expect(rebirths).toEqual([]);
  });

  it('keeps a table per device from its DBIRTH; DDATA before a DBIRTH gets an empty table', () => {
    const { nodes, birth, data } = setup();
    birth(0);
    expect(data(DDATA, 1)!.sparkplug).toMatch(/^D\d+\ng\/e\/d1\n$/);
    expect(nodes.admit(DBIRTH, bytes({ seq: 2, metrics: [{ name: 'Flow', alias: 7, datatype: T.Float, floatValue: 1 }] }))).toEqual({ sparkplug: BIRTH_JOB });
    expect(data(DDATA, 3)!.sparkplug).toMatch(/\ng\/e\/d1\n\[\[7,"Flow",9\]\]$/);
    expect(nodes.admit(DDEATH, bytes({ seq: 4 }))).toBeUndefined();
    expect(data(DDATA, 5)!.sparkplug).toMatch(/\ng\/e\/d1\n$/);
  });

  it('does not ingest a birth with no data metrics, nor deaths', () => {
    const { nodes } = setup();
    expect(nodes.admit(NBIRTH, bytes({ seq: 0, metrics: [{ name: 'bdSeq', datatype: T.UInt64, longValue: 0 }, { name: 'Node Control/Rebirth', datatype: T.Boolean, booleanValue: false }] }))).toBeUndefined();
    expect(nodes.admit(NDEATH, bytes({ metrics: [{ name: 'bdSeq', datatype: T.UInt64, longValue: 0 }] }))).toBeUndefined();
    expect(nodes.isBorn('g/e')).toBe(false);
  });

  it('lets only the NDEATH of the current birth (its bdSeq) end the node', () => {
    const { nodes, birth } = setup();
    birth(0, 5);
    nodes.admit(NDEATH, bytes({ metrics: [{ name: 'bdSeq', datatype: T.UInt64, longValue: 4 }] })); // a stale will
    expect(nodes.isBorn('g/e')).toBe(true);
    nodes.admit(NDEATH, bytes({ metrics: [{ name: 'bdSeq', datatype: T.UInt64, longValue: 5 }] }));
    expect(nodes.isBorn('g/e')).toBe(false);
  });

  it('tells the node of an unknown alias the worker found: a rebirth request', () => {
    const { birth, data, rebirths } = setup();
    birth(0);
    data(DDATA, 1)!.onRefused!('sparkplug_alias_unknown');
    data(NDATA, 2)!.onRefused!('timestamp_skew'); // other refusals ask nothing
    expect(rebirths).toEqual(['g/e: alias_unknown: unknown alias in g/e/d1']);
  });
});

describe('EdgeNodes: births and deaths as status changes', () => {
  const statuses = (nodes: EdgeNodes) => nodes.takeStatusChanges().map((c) => `${c.device} ${c.event} ${c.online ? 'online' : 'offline'} ${c.timeMs}`);

  it('reports each birth taken and each death, once, after the admit that caused it', () => {
    const { nodes, birth, data } = setup();
    birth(0, 3);
    expect(statuses(nodes)).toEqual(['g:e NBIRTH online 1000']);
    expect(statuses(nodes)).toEqual([]); // taken
    nodes.admit(DBIRTH, bytes({ seq: 1, timestamp: 900, metrics: [{ name: 'Flow', alias: 7, datatype: T.Float, floatValue: 1 }] }));
    nodes.admit(topic('spBv1.0/g/DBIRTH/e/d2'), bytes({ seq: 2, metrics: [] })); // no data metrics: still a birth
    expect(statuses(nodes)).toEqual(['g:e:d1 DBIRTH online 1000', 'g:e:d2 DBIRTH online 1000']); // 900 is before the node's birth: not earlier than it
    data(DDATA, 3);
    expect(nodes.takeStatusChanges()).toHaveLength(0);
    expect(nodes.admit(DDEATH, bytes({ seq: 4, timestamp: 1000 }))).toBeUndefined();
    expect(statuses(nodes)).toEqual(['g:e:d1 DDEATH offline 1000']);
    expect(nodes.onlineDevicesOf('g/e')).toEqual(['d2']);
    nodes.admit(NDEATH, bytes({ metrics: [{ name: 'bdSeq', datatype: T.UInt64, longValue: 3 }] }));
    expect(statuses(nodes)).toEqual(['g:e NDEATH offline 1000', 'g:e:d2 NDEATH offline 1000']);
  });

  it('takes nothing from a stale NDEATH (an earlier birth\'s bdSeq), from one of a node never seen, nor from a birth that does not decode', () => {
    const { nodes, birth } = setup();
    nodes.admit(NDEATH, bytes({ metrics: [{ name: 'bdSeq', datatype: T.UInt64, longValue: 1 }] }));
    expect(nodes.takeStatusChanges()).toHaveLength(0);
    birth(0, 5);
    nodes.admit(DBIRTH, bytes({ seq: 1, metrics: [] }));
    nodes.takeStatusChanges();
    nodes.admit(NDEATH, bytes({ metrics: [{ name: 'bdSeq', datatype: T.UInt64, longValue: 4 }] }));
    expect(nodes.takeStatusChanges()).toHaveLength(0);
    expect(nodes.onlineDevicesOf('g/e')).toEqual(['d1']);
    expect(nodes.admit(NBIRTH, Uint8Array.from([0xff, 0xff]))).toEqual({ sparkplug: BIRTH_JOB }); // the worker refuses it with the reason
    expect(nodes.takeStatusChanges()).toHaveLength(0);
  });

  it('stamps births and DDEATH with their payload timestamp when sane, NDEATH with the receive time', () => {
    const { nodes, advance } = setup();
    advance(60_000); // now 61 000
    nodes.admit(NBIRTH, bytes({ seq: 0, timestamp: 60_500, metrics: [{ name: 'bdSeq', datatype: T.UInt64, longValue: 0 }] }));
    nodes.admit(DBIRTH, bytes({ seq: 1, timestamp: 61_000 + 10_001, metrics: [] })); // over decode's 10 s ahead: receive time
    nodes.admit(DDEATH, bytes({ seq: 2, timestamp: 60_900 })); // before the DBIRTH's time: not earlier than it
    expect(statuses(nodes)).toEqual(['g:e NBIRTH online 60500', 'g:e:d1 DBIRTH online 61000', 'g:e:d1 DDEATH offline 61000']);
    advance(5);
    nodes.admit(NDEATH, bytes({ timestamp: 1, metrics: [{ name: 'bdSeq', datatype: T.UInt64, longValue: 0 }] }));
    expect(statuses(nodes)).toEqual(['g:e NDEATH offline 61005']);
  });
});

describe('EdgeNodes: seq', () => {
  it('follows seq across node and device messages, wrapping 255 → 0 without a request', () => {
    const { birth, data, rebirths, nodes } = setup();
    birth(250);
    for (let s = 251; s <= 255; s++) data(s % 2 ? NDATA : DDATA, s);
    data(NDATA, 0);
    nodes.admit(DBIRTH, bytes({ seq: 1, metrics: [{ name: 'x', datatype: T.Double, doubleValue: 1 }] }));
    data(DDATA, 2);
    expect(rebirths).toEqual([]);
  });

  it('requests a rebirth on a gap, a missing seq, and data before any NBIRTH; then follows the new seq', () => {
    const { birth, data, rebirths } = setup();
    data(NDATA, 7);
    birth(0);
    data(NDATA, 1);
    data(DDATA, 3); // 2 lost
    data(DDATA, 4); // follows 3: no second request
    data(NDATA);
    expect(rebirths).toEqual(['g/e: no_birth: NDATA before any NBIRTH since the gateway started', 'g/e: seq: DDATA seq 3 after 1: expected 2', 'g/e: seq: NDATA without a seq']);
  });

  it('asks at most once per interval per node', () => {
    const { birth, data, rebirths, advance } = setup(5000);
    birth(0);
    data(NDATA, 5);
    data(NDATA, 9);
    advance(4999);
    data(NDATA, 20);
    expect(rebirths).toHaveLength(1);
    advance(1);
    data(NDATA, 30);
    expect(rebirths).toHaveLength(2);
  });
});

describe('encodeRebirthRequest', () => {
  it('is an NCMD payload with Node Control/Rebirth = true (Boolean)', () => {
    const p = SparkplugPayload.decode(encodeRebirthRequest(1234));
    expect(p.timestamp).toBe(1234);
    expect(p.metrics).toHaveLength(1);
    expect(p.metrics[0]).toMatchObject({ name: 'Node Control/Rebirth', datatype: T.Boolean, booleanValue: true, value: 'booleanValue' });
  });
});

describe('EdgeNodes: bounded state', () => {
  it(`forgets an edge id's oldest group past ${MAX_GROUPS_PER_EDGE}, and only its own`, () => {
    const { nodes } = setup();
    nodes.admit(topic('spBv1.0/plant/NBIRTH/other'), bytes({ seq: 0, metrics: [] }));
    for (let g = 0; g < 1000; g++) nodes.admit(topic(`spBv1.0/spoof-${g}/NDATA/e`), bytes({ seq: 0, metrics: [] }));
    expect(nodes.trackedNodes).toBe(MAX_GROUPS_PER_EDGE + 1);
    expect(nodes.isBorn('plant/other')).toBe(true);
  });

  it(`keeps birth state for at most ${MAX_DEVICES_PER_NODE} devices of a node`, () => {
    const { nodes, birth } = setup();
    birth(0);
    for (let d = 0; d < MAX_DEVICES_PER_NODE + 50; d++) nodes.admit(topic(`spBv1.0/g/DDATA/e/d${d}`), bytes({ seq: (d + 1) % 256, metrics: [] }));
    expect(nodes.devicesOf('g/e')).toBe(MAX_DEVICES_PER_NODE);
  });
});
