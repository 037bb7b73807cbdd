import { SluiceError } from '../../core/index.js';
import { SeriesState } from './window-state.js';

/** Ids stay below 2^26 so two fit exactly in one number key (id · 2^26 + id < 2^52). */
const ID_LIMIT = 2 ** 26;

/** The keys of one (device, device tags) pair, by (metric, reading tags). */
export class DeviceKeys {
  readonly series = new Map<number, SeriesState>();
  constructor(readonly key: number) {}
}

/**
 * Finds a key's SeriesState from a batch's string indices without building key strings.
 * A batch's dictionary is fresh strings, so each distinct string is interned to a
 * numeric id once per batch (lazily: only strings of accepted numeric readings); a key
 * is then two number-keyed lookups: (device, device tags) → (metric, reading tags).
 * The id table is rebuilt from the live keys when it outgrows them (device churn).
 */
export class KeyIndex {
  /** Every key, in first-seen order (snapshots write this order; fired output is sorted by it). */
  readonly all = new Set<SeriesState>();
  private ids = new Map<string, number>();
  private devices = new Map<number, DeviceKeys>();
  private batchIds = new Int32Array(256);
  private strings: readonly string[] = [];
  private nextOrdinal = 0;

  /** Starts a batch: later string indices refer to its dictionary. */
  beginBatch(strings: readonly string[]): void {
    if (this.ids.size > Math.max(65_536, 8 * this.all.size)) this.compact();
    if (this.batchIds.length < strings.length) this.batchIds = new Int32Array(strings.length * 2);
    this.batchIds.fill(-1, 0, strings.length);
    this.strings = strings;
  }

  /** The keys of a (device, device tags) pair, as string indices of the current batch. */
  deviceKeys(device: number, deviceTags: number): DeviceKeys {
    return this.devicesOf(this.batchId(device) * ID_LIMIT + this.batchId(deviceTags));
  }

  /** The key of a reading (string indices of the current batch), created if new. */
  series(dk: DeviceKeys, device: number, deviceTags: number, metric: number, tags: number): SeriesState {
    const readingKey = this.batchId(metric) * ID_LIMIT + this.batchId(tags);
    const s = dk.series.get(readingKey);
    if (s !== undefined) return s;
    const str = this.strings;
    return this.insert(new SeriesState(this.nextOrdinal++, str[device]!, str[metric]!, str[deviceTags]!, str[tags]!), dk, readingKey);
  }

  /** Adds a key read from a snapshot (after all earlier ones, so first-seen order is kept). */
  restore(device: string, metric: string, deviceTags: string, readingTags: string): SeriesState {
    return this.place(new SeriesState(this.nextOrdinal++, device, metric, deviceTags, readingTags));
  }

  /** Forgets a key (its last window was purged, or it only ever had late readings). */
  remove(s: SeriesState): void {
    if (!this.all.delete(s)) return;
    const dk = this.devices.get(s.deviceKey)!;
    dk.series.delete(s.readingKey);
    if (dk.series.size === 0) this.devices.delete(s.deviceKey);
  }

  private batchId(index: number): number {
    let g = this.batchIds[index]!;
    if (g < 0) {
      g = this.id(this.strings[index]!);
      this.batchIds[index] = g;
    }
    return g;
  }

  private id(s: string): number {
    let g = this.ids.get(s);
    if (g === undefined) {
      g = this.ids.size;
      if (g >= ID_LIMIT) throw new SluiceError('SLUICE_STATE_TOO_LARGE', `a window operator holds more than ${ID_LIMIT} distinct device ids, metrics and tag sets`);
      this.ids.set(s, g);
    }
    return g;
  }

  private devicesOf(key: number): DeviceKeys {
    let dk = this.devices.get(key);
    if (dk === undefined) this.devices.set(key, (dk = new DeviceKeys(key)));
    return dk;
  }

  private place(s: SeriesState): SeriesState {
    const dk = this.devicesOf(this.id(s.device) * ID_LIMIT + this.id(s.deviceTags));
    return this.insert(s, dk, this.id(s.metric) * ID_LIMIT + this.id(s.readingTags));
  }

  private insert(s: SeriesState, dk: DeviceKeys, readingKey: number): SeriesState {
    s.deviceKey = dk.key;
    s.readingKey = readingKey;
    dk.series.set(readingKey, s);
    this.all.add(s);
    return s;
  }

  /** Re-interns only the live keys' strings; between batches only (the batch's ids would go stale). */
  private compact(): void {
    this.ids = new Map();
    this.devices = new Map();
    const live = [...this.all];
    this.all.clear();
    for (const s of live) this.place(s);
  }
}
