import { describe, expect, it } from 'vitest';
import { parseSparkplugTopic } from './topic.js';

describe('parseSparkplugTopic', () => {
  it('maps a node topic to {group}:{edge} and a device topic to {group}:{edge}:{device}', () => {
    expect(parseSparkplugTopic('spBv1.0/plant-1/NDATA/edge.7')).toEqual({ group: 'plant-1', type: 'NDATA', edge: 'edge.7', device: undefined, node: 'plant-1/edge.7', deviceId: 'plant-1:edge.7' });
    expect(parseSparkplugTopic('spBv1.0/plant-1/DBIRTH/edge.7/pump_2')).toEqual({ group: 'plant-1', type: 'DBIRTH', edge: 'edge.7', device: 'pump_2', node: 'plant-1/edge.7', deviceId: 'plant-1:edge.7:pump_2' });
    for (const type of ['NBIRTH', 'NDEATH']) expect(parseSparkplugTopic(`spBv1.0/g/${type}/e`)).toMatchObject({ type, deviceId: 'g:e' });
    for (const type of ['DDATA', 'DDEATH']) expect(parseSparkplugTopic(`spBv1.0/g/${type}/e/d`)).toMatchObject({ type, deviceId: 'g:e:d' });
  });

  it('leaves other topics and the message types it does not ingest to the ACL', () => {
    expect(parseSparkplugTopic('devices/d1/telemetry')).toBeUndefined();
    expect(parseSparkplugTopic('spBv1.0x/g/NDATA/e')).toBeUndefined();
    expect(parseSparkplugTopic('spBv1.0/g/NCMD/e')).toBeUndefined();
    expect(parseSparkplugTopic('spBv1.0/g/DCMD/e/d')).toBeUndefined();
    expect(parseSparkplugTopic('spBv1.0/STATE/host-1')).toBeUndefined();
    expect(parseSparkplugTopic('spBv1.0/g')).toBeUndefined();
  });

  it('refuses, with the reason, a topic of the wrong depth', () => {
    expect(parseSparkplugTopic('spBv1.0/g/NDATA/e/d')).toMatch(/NDATA topic has 4 levels .* got 5/);
    expect(parseSparkplugTopic('spBv1.0/g/DDATA/e')).toMatch(/DDATA topic has 5 levels .* got 4/);
  });

  it('refuses ids that would not map one-to-one onto a valid device id', () => {
    // ':' joins the parts: allowing it in a part would let g:a + b and g + a:b collide.
    expect(parseSparkplugTopic('spBv1.0/g:a/NDATA/b')).toMatch(/group id "g:a" is not/);
    expect(parseSparkplugTopic('spBv1.0/g/NDATA/a b')).toMatch(/edge node id "a b" is not/);
    expect(parseSparkplugTopic('spBv1.0/g/DDATA/e/')).toMatch(/device id "" is not/);
    expect(parseSparkplugTopic('spBv1.0/g/DDATA/e/pümpe')).toMatch(/device id "pümpe"/);
    expect(parseSparkplugTopic(`spBv1.0/g/DDATA/e/${'x'.repeat(125)}`)).toMatch(/Sluice device id "g:e:x+" is not 1–128/);
    expect(parseSparkplugTopic(`spBv1.0/g/DDATA/e/${'x'.repeat(124)}`)).toMatchObject({ deviceId: `g:e:${'x'.repeat(124)}` });
  });
});
