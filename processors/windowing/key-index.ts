import { SluiceError } from '../../core/index.js';
import type { ByteReader, ByteWriter } from '../state/bytes.js';
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
 * Snapshots write the table once and each key as four ids, so a restore decodes every
 * distinct string once and restored keys share them.
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

  /** Writes the string table (between batches); keys are then written with writeKey. */
  writeStrings(w: ByteWriter): void {
    if (this.ids.size > 2 * this.all.size + 1024) this.compact(); // don't checkpoint dead strings
    w.varint(this.ids.size);
    for (const str of this.ids.keys()) w.string(str); // Map order is id order: ids are never deleted, only rebuilt
  }

  /** Writes a key as its four string ids. */
  writeKey(w: ByteWriter, s: SeriesState): void {
    w.varint(Math.floor(s.deviceKey / ID_LIMIT));
    w.varint(s.deviceKey % ID_LIMIT);
    w.varint(Math.floor(s.readingKey / ID_LIMIT));
    w.varint(s.readingKey % ID_LIMIT);
  }

  /** Reads a string table written by writeStrings into an empty index; returns the strings by id. */
  readStrings(r: ByteReader): string[] {
    const n = r.varint();
    if (n > ID_LIMIT) r.fail(`${n} strings`);
    const table = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      table[i] = r.string();
      this.ids.set(table[i]!, i);
    }
    if (this.ids.size !== n) r.fail('duplicate strings in the key table');
    return table;
  }

  /** Reads a key written by writeKey and adds it after all earlier ones (first-seen order is kept). */
  readKey(r: ByteReader, table: readonly string[]): SeriesState {
    const ids = [r.varint(), r.varint(), r.varint(), r.varint()] as const;
    for (const id of ids) if (id >= table.length) r.fail(`string id ${id} of ${table.length}`);
    const [device, deviceTags, metric, tags] = ids;
    const dk = this.devicesOf(device * ID_LIMIT + deviceTags);
    const readingKey = metric * ID_LIMIT + tags;
    if (dk.series.has(readingKey)) r.fail(`key ${table[device]}/${table[metric]} twice`);
    return this.insert(new SeriesState(this.nextOrdinal++, table[device]!, table[metric]!, table[deviceTags]!, table[tags]!), dk, readingKey);
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
