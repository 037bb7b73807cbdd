/**
 * MQTT 3.1.1 topic matching (§4.7) on pre-split levels. A topic "a//b" has three levels,
 * the middle one empty, exactly as the spec counts them [MQTT-4.7.1-1 … 4.7.3].
 */

/** True for a topic a client may PUBLISH to: non-empty, no wildcards [MQTT-3.3.2-2], [MQTT-4.7.3-1]. */
export function isValidTopicName(topic: string): boolean {
  // U+0000 is forbidden in any topic [MQTT-4.7.3-2].
  return topic.length > 0 && !topic.includes('+') && !topic.includes('#') && !topic.includes('\u0000');
}

/** True for a valid filter: '#' alone and last [MQTT-4.7.1-2], '+' alone in its level [MQTT-4.7.1-3]. */
export function isValidTopicFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  return levels.every((level, i) => {
    if (level === '#') return i === levels.length - 1;
    return !level.includes('#') && (level === '+' || !level.includes('+'));
  });
}

/** Wildcards at the first level of a rule never reach topics starting with '$' [MQTT-4.7.2-1]. */
function dollarExcluded(rule: readonly string[], target: readonly string[]): boolean {
  return (rule[0] === '+' || rule[0] === '#') && target[0]!.startsWith('$');
}

/** True when the concrete topic (levels) matches the rule's filter (levels). */
export function topicMatches(rule: readonly string[], topic: readonly string[]): boolean {
  if (dollarExcluded(rule, topic)) return false;
  for (let i = 0; i < rule.length; i++) {
    const r = rule[i]!;
    // '#' also matches the parent level: "a/#" matches "a" [MQTT-4.7.1-2].
    if (r === '#') return true;
    if (i >= topic.length) return false;
    if (r !== '+' && r !== topic[i]) return false;
  }
  return rule.length === topic.length;
}

/**
 * True when every topic the subscription `filter` could match is matched by `rule`, so
 * granting the subscription grants nothing the rule does not. Per level: rule '#' covers
 * the rest (and nothing); rule '+' covers a literal or '+' but not '#'; a literal covers
 * only the same literal.
 */
export function filterCovered(rule: readonly string[], filter: readonly string[]): boolean {
  if (dollarExcluded(rule, filter)) return false;
  for (let i = 0; i < rule.length; i++) {
    const r = rule[i]!;
    if (r === '#') return true;
    if (i >= filter.length) return false;
    const f = filter[i]!;
    // A filter '#' here matches any depth, which only a rule '#' at the same level covers.
    if (f === '#') return false;
    if (r !== '+' && r !== f) return false;
  }
  return rule.length === filter.length;
}
