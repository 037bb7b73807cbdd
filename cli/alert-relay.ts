import type { Logger } from '../core/index.js';
import type { Gateway } from '../gateway/index.js';
import { alertMessage, type AlertTransition } from '../processors/rules/index.js';

/** Alerts held while no gateway runs yet: the processors restore (and may replay transitions) before the gateway starts. */
const MAX_HELD = 10_000;

/**
 * Publishes the processors' alert transitions through this process's gateway as retained
 * QoS 1 messages on alerts/{device}/{rule}. Transitions sent before the gateway is attached
 * are held (up to MAX_HELD, then the oldest go: they are in InfluxDB either way).
 */
export class AlertRelay {
  private gateway: Gateway | undefined;
  private held: AlertTransition[] = [];
  private dropped = 0;

  constructor(private readonly logger: Logger) {}

  /** Starts publishing through `gateway`, the held transitions first. */
  attach(gateway: Gateway): void {
    this.gateway = gateway;
    if (this.dropped > 0) this.logger.warn({ dropped: this.dropped }, 'alerts from before the gateway started were not published over MQTT (they are in InfluxDB)');
    for (const t of this.held) this.send(t);
    this.held = [];
  }

  /** One transition, in order. */
  send(t: AlertTransition): void {
    if (this.gateway === undefined) {
      if (this.held.length >= MAX_HELD) {
        this.held.shift();
        this.dropped++;
      }
      this.held.push(t);
      return;
    }
    const m = alertMessage(t);
    this.gateway.publishOwn(m.topic, m.payload, true).catch((err: unknown) => this.logger.warn({ err: (err as Error).message, topic: m.topic }, 'alert not published over MQTT (it is in InfluxDB)'));
  }
}
