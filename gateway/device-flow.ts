import type { DeviceLimitsConfig } from './config.js';
import { PublishPacer } from './publish-pacer.js';
import { TokenBucket } from './token-bucket.js';

/**
 * One device's flow limits, shared by every connection of that device: reconnecting does
 * not refill them (a per-connection bucket let a device that reconnected every 1,900
 * messages pass 126 k msgs/s against a 1,000/s limit).
 */
export class DeviceFlow {
  connections = 0;
  /** Holds the device's publishes over a limit, releasing them in arrival order. */
  readonly pacer = new PublishPacer();

  constructor(
    private readonly messages: TokenBucket | undefined,
    private readonly bytes: TokenBucket | undefined,
    readonly readings: TokenBucket | undefined,
  ) {}

  /** Takes one message of `payloadBytes` and says how long to hold it (0 = now). Readings are charged after decode: their debt delays later publishes. */
  delayFor(payloadBytes: number, now = performance.now()): number {
    return Math.max(this.messages?.delayFor(1, now) ?? 0, this.bytes?.delayFor(payloadBytes, now) ?? 0, this.readings?.delayFor(0, now) ?? 0);
  }

  /** Milliseconds until every bucket is full again: until then, forgetting the device would hand it a fresh allowance. */
  fullIn(now = performance.now()): number {
    return Math.max(this.messages?.fullIn(now) ?? 0, this.bytes?.fullIn(now) ?? 0, this.readings?.fullIn(now) ?? 0);
  }
}

/**
 * The per-device flow limits (messages, readings and bytes per second, each a token
 * bucket; 0 = off). A device over a limit is delayed, not refused: its publishes are held,
 * aedes stops reading its socket, and TCP slows it down. Nothing is dropped.
 * Memory: one DeviceFlow per connected device, kept after its last connection only until
 * its buckets have refilled.
 */
export class DeviceFlows {
  private readonly flows = new Map<string, DeviceFlow>();

  constructor(private readonly limits: DeviceLimitsConfig) {}

  /** False when every limit is off. */
  get enabled(): boolean {
    const l = this.limits;
    return l.messagesPerSecond > 0 || l.readingsPerSecond > 0 || l.bytesPerSecond > 0;
  }

  /** Devices with a flow. */
  get size(): number {
    return this.flows.size;
  }

  /** A connection of `device` opened: the device's flow, shared with its other connections. */
  attach(device: string): DeviceFlow {
    let flow = this.flows.get(device);
    if (!flow) {
      const l = this.limits;
      const bucket = (rate: number, burst: number) => (rate > 0 ? new TokenBucket(rate, burst) : undefined);
      flow = new DeviceFlow(bucket(l.messagesPerSecond, l.burst), bucket(l.bytesPerSecond, l.bytesBurst), bucket(l.readingsPerSecond, l.readingsBurst));
      this.flows.set(device, flow);
    }
    flow.connections++;
    return flow;
  }

  /** A connection of `device` closed: its flow is forgotten once no connection uses it and its buckets are full. */
  detach(device: string): void {
    const flow = this.flows.get(device);
    if (!flow) return;
    flow.connections--;
    this.forgetWhenIdle(device, flow);
  }

  private forgetWhenIdle(device: string, flow: DeviceFlow): void {
    if (flow.connections > 0 || this.flows.get(device) !== flow) return;
    const wait = flow.fullIn();
    if (wait <= 0 && flow.pacer.waiting === 0) this.flows.delete(device);
    else setTimeout(() => this.forgetWhenIdle(device, flow), Math.max(wait, 1_000)).unref();
  }

  /** Charges `n` readings of `device` (known after decode); its next publishes wait out any debt. */
  chargeReadings(device: string, n: number): void {
    this.flows.get(device)?.readings?.delayFor(n);
  }
}
