export { RulesInvalidError, RulesFileUnreadableError } from './errors.js';
export { loadRulesFile, parseRules, type ParseRulesOptions } from './rules-file.js';
export { rulesConfigSchema, type RulesConfig } from './config.js';
export { RuleEvaluator, type RuleEvaluatorStats, type TransitionSink } from './rule-evaluator.js';
export { alertId } from './transition.js';
export { describeSelector, SelectorMatcher } from './device-selector.js';
export { describeRule, formatDuration } from './describe-rule.js';
export {
  AGGREGATES,
  COMPARISONS,
  RULE_KINDS,
  SEVERITIES,
  fingerprint,
  type AbsenceRule,
  type Aggregate,
  type AlertTransition,
  type Comparison,
  type Condition,
  type DeviceSelector,
  type MetricCondition,
  type RateRule,
  type Rule,
  type RuleKind,
  type RuleWindow,
  type SequenceRule,
  type Severity,
  type ThresholdRule,
} from './rule.js';
export { RulesReloader, type RulesReloaderOptions } from './rules-reloader.js';
export { alertBody, alertMessage, type AlertMessage } from './alert-message.js';
export { AlertWebhook, type AlertWebhookOptions } from './alert-webhook.js';
