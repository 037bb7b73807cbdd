import { describe, expect, it } from 'vitest';
import { filterCovered, isValidTopicFilter, isValidTopicName, topicMatches } from './topic-match.js';

const match = (rule: string, topic: string): boolean => topicMatches(rule.split('/'), topic.split('/'));
const cover = (rule: string, filter: string): boolean => filterCovered(rule.split('/'), filter.split('/'));

describe('topic names and filters', () => {
  it('validates names', () => {
    expect(isValidTopicName('a/b')).toBe(true);
    expect(isValidTopicName('a//b')).toBe(true);
    expect(isValidTopicName('')).toBe(false);
    expect(isValidTopicName('a/+')).toBe(false);
    expect(isValidTopicName('a/#')).toBe(false);
  });

  it('validates filters', () => {
    for (const ok of ['#', '+', 'a/#', 'a/+/b', '+/+', '/']) expect(isValidTopicFilter(ok), ok).toBe(true);
    for (const bad of ['', 'a/#/b', 'a#', 'a/b+', '+a', '##']) expect(isValidTopicFilter(bad), bad).toBe(false);
  });
});

describe('topicMatches', () => {
  it('follows MQTT 3.1.1 wildcard matching', () => {
    expect(match('a/b', 'a/b')).toBe(true);
    expect(match('a/b', 'a/c')).toBe(false);
    expect(match('a/+', 'a/b')).toBe(true);
    expect(match('a/+', 'a/b/c')).toBe(false);
    expect(match('a/+', 'a')).toBe(false);
    expect(match('a/#', 'a')).toBe(true);
    expect(match('a/#', 'a/b/c')).toBe(true);
    expect(match('#', 'x/y')).toBe(true);
    expect(match('+/+', '/x')).toBe(true);
  });

  it('keeps leading wildcards away from $ topics [MQTT-4.7.2-1]', () => {
    expect(match('#', '$SYS/x')).toBe(false);
    expect(match('+/x', '$SYS/x')).toBe(false);
    expect(match('$SYS/#', '$SYS/x')).toBe(true);
  });
});

describe('filterCovered', () => {
  it('covers only filters whose every topic the rule matches', () => {
    expect(cover('#', '#')).toBe(true);
    expect(cover('#', 'a/+/b')).toBe(true);
    expect(cover('a/#', 'a')).toBe(true);
    expect(cover('a/#', 'a/#')).toBe(true);
    expect(cover('a/#', 'a/+/c')).toBe(true);
    expect(cover('a/+', 'a/b')).toBe(true);
    expect(cover('a/+', 'a/+')).toBe(true);
    expect(cover('a/+', 'a/#')).toBe(false);
    expect(cover('a/+/#', 'a/#')).toBe(false);
    expect(cover('a/b', 'a/+')).toBe(false);
    expect(cover('a/b', 'a/b/c')).toBe(false);
    expect(cover('a/b/c', 'a/b')).toBe(false);
    expect(cover('a', 'a/#')).toBe(false);
  });

  it('does not let a leading wildcard rule cover a $ filter [MQTT-4.7.2-1]', () => {
    expect(cover('#', '$SYS/#')).toBe(false);
    expect(cover('+/#', '$SYS/x')).toBe(false);
    expect(cover('#', '+/x')).toBe(true);
  });
});
