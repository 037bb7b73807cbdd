import type { AlertTransition } from './rule.js';

/** An alert transition as an MQTT message: its topic (retained per device and rule) and JSON payload. */
export interface AlertMessage {
  topic: string;
  payload: Buffer;
}

/**
 * `alerts/{device}/{rule}`, retained, so a subscriber to `alerts/#` (the service role may
 * read it) learns the last state of every rule and device at once. At least once: a
 * replay after a crash publishes a transition again with the same `id`.
 */
export function alertMessage(t: AlertTransition): AlertMessage {
  return { topic: `alerts/${t.device}/${t.rule}`, payload: Buffer.from(JSON.stringify(alertBody(t))) };
}

/** The JSON body of an alert (MQTT payload and webhook body alike). */
export function alertBody(t: AlertTransition): Record<string, unknown> {
  return {
    id: t.id,
    rule: t.rule,
    device: t.device,
    severity: t.severity,
    state: t.state,
    time: new Date(t.time).toISOString(),
    timeMs: t.time,
    value: Number.isFinite(t.value) ? t.value : null,
    threshold: Number.isFinite(t.threshold) ? t.threshold : null,
    description: t.description,
    readingTags: t.readingTags,
    deviceTags: t.deviceTags,
  };
}
