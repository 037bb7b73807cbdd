import type { IngestMapping } from './config.js';
import { levelIndex, parseTopicPattern, patternMatches, type PatternLevel } from './topic-pattern.js';

/**
 * A validated mapping, prepared for use per message: the parsed pattern, the index of the
 * device level and of each tag level, and the field sets. Built once per thread (the main
 * thread for matching, each decode worker for the JSON), from the same IngestMapping.
 */
export class MappingRules {
  readonly name: string;
  readonly levels: readonly PatternLevel[];
  readonly deviceLevel: number;
  /** [tag key, level index] for each `tags.fromTopic`. */
  readonly topicTags: readonly (readonly [string, number])[];
  readonly separator: string;
  readonly timestamp: IngestMapping['timestamp'];
  /** The sequence field's path, undefined when the mapping has none. */
  readonly sequence: string | undefined;
  readonly fieldTags: ReadonlySet<string>;
  readonly include: ReadonlySet<string> | undefined;
  readonly exclude: ReadonlySet<string>;

  constructor(
    readonly mapping: IngestMapping,
    /** The mapping's position in `ingest.mappings`: what a decode job carries per message. */
    readonly index: number,
  ) {
    const levels = parseTopicPattern(mapping.topic);
    if (typeof levels === 'string') throw new Error(`mapping ${mapping.name}: ${levels}`); // the schema refused it already
    this.name = mapping.name;
    this.levels = levels;
    this.deviceLevel = levelIndex(levels, mapping.device);
    this.topicTags = mapping.tags.fromTopic.map((key) => [key, levelIndex(levels, key)] as const);
    this.separator = mapping.separator;
    this.timestamp = mapping.timestamp;
    this.sequence = mapping.sequence;
    this.fieldTags = new Set(mapping.tags.fromFields);
    this.include = mapping.fields.include === undefined ? undefined : new Set(mapping.fields.include);
    this.exclude = new Set(mapping.fields.exclude);
  }
}

/** A topic a mapping took: which mapping, and the device id from its device level. */
export interface MappedTopic {
  rules: MappingRules;
  device: string;
}

/**
 * Finds the mapping for a topic on the main thread. The schema refuses overlapping
 * patterns, so at most one mapping matches and the order does not matter.
 */
export class MappingRouter {
  readonly rules: readonly MappingRules[];
  private readonly depths: ReadonlySet<number>;

  constructor(mappings: readonly IngestMapping[]) {
    this.rules = mappings.map((m, i) => new MappingRules(m, i));
    this.depths = new Set(this.rules.map((r) => r.levels.length));
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** The mapping and device for a concrete topic, or undefined when no mapping takes it. */
  match(topic: string): MappedTopic | undefined {
    if (this.rules.length === 0) return undefined;
    const levels = topic.split('/');
    if (!this.depths.has(levels.length)) return undefined;
    for (const rules of this.rules) {
      if (patternMatches(rules.levels, levels)) return { rules, device: levels[rules.deviceLevel]! };
    }
    return undefined;
  }
}
