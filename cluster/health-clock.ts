/**
 * A clock that runs only while this member can prove it is in touch with NATS: time is
 * credited when one of its own writes has been stored *and* has come back through its
 * watch. During an outage or a bucket's leader election nobody's writes land, so every
 * observer's clock stops, and nobody's view of others' silence grows: members are not
 * dropped and leases do not expire for an outage that hit everyone alike. nats-server
 * 2.9's KV watch does not announce TTL expiry, so silence must be judged by observers
 * anyway; this decides *whose* time counts.
 *
 * Contract: `stamp()` when something is observed, `now()` when deciding; `now() − stamp`
 * never exceeds the wall time that passed since the observation, so an observer never
 * judges another member silent for longer than it really was.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';

/** Emits `advance` whenever credited time grows, so deciders (the balancer) look again at once rather than at their next tick. */
export class HealthClock extends EventEmitter<{ advance: [now: number] }> {
  /** Milliseconds credited so far. */
  private credited = 0;
  /** Wall time (performance.now) up to which time is credited while continuous; undefined after an interruption. */
  private mark: number | undefined;

  constructor(private readonly wall: () => number = () => performance.now()) {
    super();
  }

  /** The credited time, in ms: what decisions (is it silent long enough?) compare with. Moves in steps, at confirmations. */
  now(): number {
    return this.credited;
  }

  /**
   * The clock reading to record for an observation made now: credited time plus the
   * uncredited time since the last confirmation, so that time before the observation is
   * never counted as silence after it.
   */
  stamp(): number {
    return this.mark === undefined ? this.credited : this.credited + Math.max(0, this.wall() - this.mark);
  }

  /**
   * One of our writes, started at `startedAt` (a `wallNow()` reading), has been stored and
   * seen back: credit the time since the last confirmation, or after an interruption only
   * the span of this write.
   */
  confirm(startedAt: number): void {
    const at = this.wall();
    const from = this.mark ?? startedAt;
    this.mark = at;
    if (at > from) {
      this.credited += at - from;
      this.emit('advance', this.credited);
    }
  }

  /** One of our writes failed or did not come back: stop counting until the next confirmation. */
  interrupt(): void {
    this.mark = undefined;
  }

  /** Whether the clock is counting (the last of our writes was confirmed). */
  get running(): boolean {
    return this.mark !== undefined;
  }

  /** The wall time a write's start is measured in, for `confirm()`. */
  wallNow(): number {
    return this.wall();
  }
}
