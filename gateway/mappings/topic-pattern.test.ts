import { describe, expect, it } from 'vitest';
import { ingestMappingsSchema } from './config.js';
import { MappingRouter } from './mapping-rules.js';
import { parseTopicPattern, patternMatches, patternsOverlap, type PatternLevel } from './topic-pattern.js';

const parse = (pattern: string): PatternLevel[] => {
  const levels = parseTopicPattern(pattern);
  if (typeof levels === 'string') throw new Error(levels);
  return levels;
};
const matches = (pattern: string, topic: string): boolean => patternMatches(parse(pattern), topic.split('/'));

describe('topic patterns', () => {
  it('parses literal, named and anonymous levels', () => {
    expect(parse('factory/+site/+/+device')).toEqual([{ literal: 'factory' }, { name: 'site' }, { name: '' }, { name: 'device' }]);
    expect(parse('a//b')).toEqual([{ literal: 'a' }, { literal: '' }, { literal: 'b' }]);
  });

  it('matches a topic level for level: wildcards take any one level, literals only themselves', () => {
    expect(matches('factory/+site/+device/telemetry', 'factory/oslo/press-1/telemetry')).toBe(true);
    expect(matches('factory/+site/+device/telemetry', 'factory/oslo/press-1/state')).toBe(false);
    expect(matches('factory/+site/+device/telemetry', 'factory/oslo/press-1/telemetry/x')).toBe(false);
    expect(matches('factory/+site/+device/telemetry', 'factory/oslo/telemetry')).toBe(false);
    expect(matches('+device', '')).toBe(true); // one empty level: the router then refuses the empty device id
    expect(matches('+a/+device', '$SYS/x')).toBe(false); // [MQTT-4.7.2-1]
  });

  it('says when two patterns can match one topic', () => {
    expect(patternsOverlap(parse('a/+x/c'), parse('+/b/+'))).toBe(true);
    expect(patternsOverlap(parse('a/+x/c'), parse('a/+x/d'))).toBe(false);
    expect(patternsOverlap(parse('a/+x'), parse('a/+x/+'))).toBe(false);
  });
});

describe('MappingRouter', () => {
  const router = new MappingRouter(
    ingestMappingsSchema.parse([
      { name: 'factory', topic: 'factory/+site/+device/telemetry' },
      { name: 'sensors', topic: 'sensors/+id', device: 'id' },
    ]),
  );

  it('gives the mapping and the device id from its device level', () => {
    const hit = router.match('factory/oslo/press-1/telemetry');
    expect(hit?.rules.name).toBe('factory');
    expect(hit?.rules.index).toBe(0);
    expect(hit?.device).toBe('press-1');
    expect(router.match('sensors/t-9')).toMatchObject({ device: 't-9', rules: { name: 'sensors', index: 1 } });
  });

  it('takes no other topic', () => {
    for (const topic of ['devices/d1/telemetry', 'factory/oslo/press-1', 'sensors/t-9/x', 'other', '']) expect(router.match(topic), topic).toBeUndefined();
    expect(new MappingRouter([]).match('sensors/t-9')).toBeUndefined();
  });
});
