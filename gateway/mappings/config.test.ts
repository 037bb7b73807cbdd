import { describe, expect, it } from 'vitest';
import { gatewayConfigSchema } from '../config.js';
import { ingestMappingsSchema } from './config.js';

/** The issues for a mappings list, as `path: message` lines. */
function problems(mappings: unknown): string[] {
  const parsed = ingestMappingsSchema.safeParse(mappings);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

const factory = { name: 'factory', topic: 'factory/+site/+device/telemetry' };

describe('ingest.mappings config', () => {
  it('defaults to no mappings, and fills each mapping\'s defaults', () => {
    expect(gatewayConfigSchema.parse({}).ingest.mappings).toEqual([]);
    expect(ingestMappingsSchema.parse([factory])).toEqual([
      { ...factory, device: 'device', separator: '.', tags: { fromTopic: [], fromFields: [] }, fields: { exclude: [] } },
    ]);
  });

  it('takes a full mapping', () => {
    const full = {
      name: 'plant-2',
      topic: 'plant2/+line/+/+device',
      device: 'device',
      separator: '_',
      timestamp: { field: 'ts', format: 'rfc3339' },
      tags: { fromTopic: ['line'], fromFields: ['meta_fw'] },
      fields: { include: ['env_t'], exclude: ['debug'] },
    };
    expect(problems([full])).toEqual([]);
    expect(ingestMappingsSchema.parse([{ ...full, timestamp: { field: 'ts' } }])[0]!.timestamp).toEqual({ field: 'ts', format: 'unix_ms' });
  });

  it('refuses unknown keys, as every config section does', () => {
    expect(problems([{ ...factory, devcie: 'device' }])).toEqual([expect.stringMatching(/devcie/)]);
    expect(problems([{ ...factory, tags: { fromTopics: ['site'] } }])).toEqual([expect.stringMatching(/^0\.tags: .*fromTopics/)]);
  });

  it('names the key and says what to do for each mistake', () => {
    expect(problems([{ ...factory, device: 'dev' }])).toEqual(['0.device: the topic "factory/+site/+device/telemetry" has no level named "+dev": name the level that holds the device id']);
    expect(problems([{ ...factory, topic: 'factory/+site/+site/telemetry' }])).toEqual(['0.topic: level name "site" is used twice: name each level once']);
    expect(problems([{ ...factory, topic: 'factory/#' }])).toEqual([expect.stringMatching(/^0\.topic: a pattern may not use "#"/)]);
    expect(problems([{ ...factory, topic: 'factory/a+b/+device' }])).toEqual([expect.stringMatching(/^0\.topic: level "a\+b": "\+" may only start a level/)]);
    expect(problems([{ ...factory, topic: '$SYS/+device' }])).toEqual([expect.stringMatching(/^0\.topic: a pattern may not start with "\$"/)]);
    expect(problems([{ ...factory, name: 'has space' }])).toEqual(['0.name: a mapping name is 1–64 characters of A-Z a-z 0-9 _ . -']);
    expect(problems([{ ...factory, separator: ',' }])).toEqual([expect.stringMatching(/^0\.separator: /)]);
    expect(problems([{ ...factory, timestamp: { field: 'ts', format: 'unix_us' } }])).toEqual([expect.stringMatching(/^0\.timestamp\.format: /)]);
  });

  it('refuses tags that cannot be: an unknown level, the device level, a reserved key, a field used twice', () => {
    expect(problems([{ ...factory, tags: { fromTopic: ['line'] } }])).toEqual(['0.tags.fromTopic.0: the topic "factory/+site/+device/telemetry" has no level named "+line": name the level in the topic']);
    expect(problems([{ ...factory, tags: { fromTopic: ['device'] } }])).toEqual(['0.tags.fromTopic.0: "device" is the device level, already the device tag: leave it out']);
    expect(problems([{ ...factory, tags: { fromFields: ['metric'] } }])).toEqual([expect.stringMatching(/^0\.tags\.fromFields\.0: "metric" cannot be a tag key: .*reserved/)]);
    expect(problems([{ ...factory, tags: { fromTopic: ['site'], fromFields: ['site'] } }])).toEqual(['0.tags: tag "site" is named twice: name each tag once']);
    expect(problems([{ ...factory, timestamp: { field: 'ts' }, tags: { fromFields: ['ts'] } }])).toEqual(['0.tags.fromFields.0: "ts" is the timestamp field: a field is a tag or the time, not both']);
    expect(problems([{ ...factory, timestamp: { field: 'ts' }, sequence: 'ts' }])).toEqual(['0.sequence: "ts" is also the timestamp or a tag field: a field is one of sequence, timestamp or tag']);
  });

  it('refuses a pattern that can match the native topics', () => {
    for (const topic of ['devices/+device/telemetry', '+a/+device/telemetry', 'devices/+device/+/json', '+/+device/+']) {
      expect(problems([{ ...factory, topic }]), topic).toEqual(['0.topic: the pattern matches the native topics devices/{id}/telemetry[/json]: use another first level or level count']);
    }
    expect(problems([{ ...factory, topic: 'devices/+device/state' }])).toEqual([]);
  });

  it('refuses two mappings with one name, or that one topic could fit both', () => {
    expect(problems([factory, { ...factory, topic: 'other/+device' }])).toEqual(['1.name: mapping name "factory" is used twice: give each mapping its own name']);
    expect(problems([factory, { name: 'b', topic: 'factory/north/+device/+' }])).toEqual([
      '1.topic: the pattern can match the same topics as mapping "factory" (factory/+site/+device/telemetry): make one topic fit one mapping',
    ]);
    expect(problems([factory, { name: 'b', topic: 'factory/+site/+device/state' }, { name: 'c', topic: 'sensors/+device' }])).toEqual([]);
  });
});
