/**
 * The device ids each identity has published for besides its own, bounded per identity
 * (decode.maxDevicesPerIdentity). A service bridging a fleet (mapped topics,
 * `devices/{id}/telemetry`) or a Sparkplug B edge node names its devices in its topics, so
 * without a bound one credential that cycles device names would grow every per-device
 * structure without end: the cardinality guard's sets here, the processors' state, and the
 * series InfluxDB holds for every device. Past the bound, a new device id is refused
 * (device_limit) and the devices already seen go on as before; like InfluxDB's
 * max-series-per-database, nothing is evicted, because an evicted id could come back and
 * pass every per-device guard afresh. The sets live as long as the process: a reconnect
 * does not reset them.
 */
export class IdentityDevices {
  private readonly seen = new Map<string, Set<string>>();

  constructor(readonly limit: number) {}

  /**
   * Admits `device` for `identity`: true when it was seen before or there is room for it,
   * false when it is new and the identity already has `limit` devices.
   */
  admit(identity: string, device: string): boolean {
    let devices = this.seen.get(identity);
    if (devices === undefined) this.seen.set(identity, (devices = new Set()));
    if (devices.has(device)) return true;
    if (devices.size >= this.limit) return false;
    devices.add(device);
    return true;
  }

  /** How many other device ids `identity` has published for. */
  countOf(identity: string): number {
    return this.seen.get(identity)?.size ?? 0;
  }
}
