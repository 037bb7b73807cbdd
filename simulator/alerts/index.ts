export { ABSENCE_GUARD_MS, AlertReference, type AlertReferenceOptions, type ReadingRun } from './alert-reference.js';
export { AlertingModel, runsOf } from './alerting-model.js';
export { durationMs, globMatches, readReferenceRules, referenceRules, type RefRule } from './reference-rules.js';
