export { ingestMappingSchema, ingestMappingsSchema, type IngestMapping, type IngestMappingInput } from './config.js';
export { MappingRouter, MappingRules, type MappedTopic } from './mapping-rules.js';
export { levelIndex, parseTopicPattern, patternMatches, patternsOverlap, type PatternLevel } from './topic-pattern.js';
