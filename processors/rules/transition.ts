import { createHash } from 'node:crypto';
import type { Cell } from './cell.js';
import type { AlertTransition, Severity } from './rule.js';

/**
 * The id of an alert transition: the first 16 hex digits (64 bits) of SHA-256 over the
 * rule name, device, reading tags, state and event time. A replay after a crash, or any
 * processor that takes the partition over, computes the same id for the same transition,
 * so MQTT and webhook receivers (at least once) can drop repeats by id. Changing a rule's
 * definition does not change the ids it produces for the same times.
 */
export function alertId(rule: string, device: string, readingTags: string, state: 'firing' | 'resolved', time: number): string {
  // \n cannot occur in a rule name or a device id, and reading tags come last but one: the fields cannot run into each other.
  return createHash('sha256').update(`${rule}\n${device}\n${readingTags}\n${state}\n${time}`).digest('hex').slice(0, 16);
}

/** What a transition says of its rule (a rule in force, or one a snapshot names that is no longer). */
export interface RuleLabel {
  name: string;
  severity: Severity;
  description: string;
}

/** A transition of `cell` (its value and reading tags) of `device`. */
export function makeTransition(
  rule: RuleLabel,
  threshold: number,
  device: string,
  deviceTags: string,
  cell: Cell,
  state: 'firing' | 'resolved',
  time: number,
): AlertTransition {
  return {
    id: alertId(rule.name, device, cell.readingTags, state, time),
    rule: rule.name,
    device,
    readingTags: cell.readingTags,
    severity: rule.severity,
    state,
    time,
    value: cell.value,
    threshold,
    description: rule.description,
    deviceTags,
  };
}
