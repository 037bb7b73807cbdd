import { SluiceError } from '../../core/index.js';
import type { ByteReader, ByteWriter } from '../state/bytes.js';
import type { DeviceClock } from '../time/device-clocks.js';
import { SeriesState } from './window-state.js';

/** Ids stay below 2^26 so two fit exactly in one number key (id · 2^26 + id < 2^52). */
const ID_LIMIT = 2 ** 26;
/** Up to this many keys a device's list is scanned; beyond, a Map takes over. */
const LIST_LIMIT = 8;
const NO_KEYS: readonly SeriesState[] = Object.freeze([]);

/**
 * The keys of one (device, device tags) pair, by (metric, reading tags). Most devices
 * have a handful of metrics, for which a scan of an exactly sized array is faster than a
 * Map and a tenth of its size (200 bytes a device at 1 M keys, and two objects fewer).
 */
export class DeviceKeys {
  /** The device's event-time clock, looked up once (WindowOperator with device clocks). */
  clock: DeviceClock | undefined = undefined;
  private list: readonly SeriesState[] = NO_KEYS;
  private map: Map<number, SeriesState> | undefined = undefined;

  constructor(readonly key: number) {}

  get size(): number {
    return this.map === undefined ? this.list.length : this.map.size;
  }

  get(readingKey: number): SeriesState | undefined {
    if (this.map !== undefined) return this.map.get(readingKey);
    const list = this.list;
    for (let i = 0; i < list.length; i++) if (list[i]!.readingKey === readingKey) return list[i];
    return undefined;
  }

  /** Adds a key (its readingKey set, not held yet). */
  add(s: SeriesState): void {
    if (this.map !== undefined) {
      this.map.set(s.readingKey, s);
    } else if (this.list.length < LIST_LIMIT) {
      this.list = [...this.list, s]; // exactly sized: push would reserve 17 slots
    } else {
      this.map = new Map(this.list.map((k) => [k.readingKey, k]));
      this.map.set(s.readingKey, s);
      this.list = NO_KEYS;
    }
  }

  delete(s: SeriesState): void {
    if (this.map !== undefined) this.map.delete(s.readingKey);
    else this.list = this.list.filter((k) => k !== s);
  }
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
  /** Every key in first-seen order (snapshots write this order; fired output is sorted by it), linked through SeriesState.prev/next: a Set of 1 M keys cost a restore ~0.3 s. */
  private head: SeriesState | undefined = undefined;
  private tail: SeriesState | undefined = undefined;
  private count = 0;
  /** The last device looked up by readKey: a snapshot writes a device's keys one after another. */
  private lastDevice: DeviceKeys | undefined = undefined;
  private ids = new Map<string, number>();
  private devices = new Map<number, DeviceKeys>();
  private batchIds = new Int32Array(256);
  private strings: readonly string[] = [];
  private nextOrdinal = 0;

  /** Keys held. */
  get size(): number {
    return this.count;
  }

  /** True while `s` is held (not removed). */
  has(s: SeriesState): boolean {
    return s.deviceKeys !== undefined;
  }

  /** The first key in first-seen order; the others follow through SeriesState.next (do not remove keys while walking). */
  get first(): SeriesState | undefined {
    return this.head;
  }

  /** Starts a batch: later string indices refer to its dictionary. */
  beginBatch(strings: readonly string[]): void {
    if (this.ids.size > Math.max(65_536, 8 * this.count)) this.compact();
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
    const s = dk.get(readingKey);
    if (s !== undefined) return s;
    const str = this.strings;
    const created = new SeriesState(this.nextOrdinal++, str[device]!, str[metric]!, str[deviceTags]!, str[tags]!);
    created.windows = [];
    return this.link(this.insert(created, dk, readingKey));
  }

  /** Writes the string table (between batches), yielding every few thousand strings; keys are then written with writeKey. */
  *writeStrings(w: ByteWriter): Generator<void, void, void> {
    if (this.ids.size > 2 * this.count + 1024) this.compact(); // don't checkpoint dead strings
    w.varint(this.ids.size);
    let n = 0;
    for (const str of this.ids.keys()) {
      w.string(str); // Map order is id order: ids are never deleted, only rebuilt
      if (++n % 16_384 === 0) yield;
    }
  }

  /** Writes a key as its four string ids. */
  writeKey(w: ByteWriter, s: SeriesState): void {
    const deviceKey = s.deviceKeys!.key;
    w.varint(Math.floor(deviceKey / ID_LIMIT));
    w.varint(deviceKey % ID_LIMIT);
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
    const n = table.length;
    const device = r.varint();
    const deviceTags = r.varint();
    const metric = r.varint();
    const tags = r.varint();
    if (device >= n || deviceTags >= n || metric >= n || tags >= n) r.fail(`string id out of the table of ${n}`);
    const deviceKey = device * ID_LIMIT + deviceTags;
    let dk = this.lastDevice;
    if (dk === undefined || dk.key !== deviceKey) this.lastDevice = dk = this.devicesOf(deviceKey);
    const readingKey = metric * ID_LIMIT + tags;
    if (dk.get(readingKey) !== undefined) r.fail(`key ${table[device]}/${table[metric]} twice`);
    return this.link(this.insert(new SeriesState(this.nextOrdinal++, table[device]!, table[metric]!, table[deviceTags]!, table[tags]!), dk, readingKey));
  }

  /**
   * Reads a key written by KeyTable.writeKey (a delta's own string table) and returns it;
   * a key not held is created after all others when `create`, else undefined.
   */
  readTableKey(r: ByteReader, table: readonly string[], create: boolean): SeriesState | undefined {
    const n = table.length;
    const device = r.varint();
    const deviceTags = r.varint();
    const metric = r.varint();
    const tags = r.varint();
    if (device >= n || deviceTags >= n || metric >= n || tags >= n) r.fail(`string id out of the table of ${n}`);
    const found = this.find(table[device]!, table[deviceTags]!, table[metric]!, table[tags]!);
    if (found !== undefined || !create) return found;
    return this.link(this.place(new SeriesState(this.nextOrdinal++, table[device]!, table[metric]!, table[deviceTags]!, table[tags]!)));
  }

  /** The key of these strings, if held. */
  find(device: string, deviceTags: string, metric: string, readingTags: string): SeriesState | undefined {
    const d = this.ids.get(device);
    const dt = this.ids.get(deviceTags);
    const m = this.ids.get(metric);
    const t = this.ids.get(readingTags);
    if (d === undefined || dt === undefined || m === undefined || t === undefined) return undefined;
    return this.devices.get(d * ID_LIMIT + dt)?.get(m * ID_LIMIT + t);
  }

  /** Reads a string table written by writeStrings or KeyTable.writeTo without adding it to the index. */
  static readTable(r: ByteReader): string[] {
    const n = r.varint();
    if (n > ID_LIMIT) r.fail(`${n} strings`);
    const table = new Array<string>(n);
    for (let i = 0; i < n; i++) table[i] = r.string();
    return table;
  }

  /** Forgets a key (its last window was purged, or it only ever had late readings). */
  remove(s: SeriesState): void {
    const dk = s.deviceKeys;
    if (dk === undefined) return;
    dk.delete(s);
    if (dk.size === 0) this.devices.delete(dk.key);
    if (this.lastDevice === dk) this.lastDevice = undefined;
    s.deviceKeys = undefined;
    if (s.prev === undefined) this.head = s.next;
    else s.prev.next = s.next;
    if (s.next === undefined) this.tail = s.prev;
    else s.next.prev = s.prev;
    s.prev = s.next = undefined;
    this.count--;
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

  /** Files a key under its device (not in the key list: link). */
  private insert(s: SeriesState, dk: DeviceKeys, readingKey: number): SeriesState {
    s.deviceKeys = dk;
    s.readingKey = readingKey;
    dk.add(s);
    return s;
  }

  /** Appends a key to the list of all keys. */
  private link(s: SeriesState): SeriesState {
    s.prev = this.tail;
    if (this.tail === undefined) this.head = s;
    else this.tail.next = s;
    this.tail = s;
    this.count++;
    return s;
  }

  /** Re-interns only the live keys' strings; between batches only (the batch's ids would go stale). The key list keeps its order. */
  private compact(): void {
    this.ids = new Map();
    this.devices = new Map();
    this.lastDevice = undefined;
    for (let s = this.head; s !== undefined; s = s.next) this.place(s);
  }
}

/**
 * A delta snapshot's own string table: only the strings of the keys it carries, so a
 * delta reads the same whatever the index's ids were (they are renumbered by compaction
 * and by every restore). Keys are written as four ids into it, in writeKey's order.
 */
export class KeyTable {
  private readonly ids = new Map<string, number>();
  /** The device of the last key written: a device's keys mostly come one after another. */
  private lastDevice: DeviceKeys | undefined = undefined;
  private lastDeviceIds: [number, number] = [0, 0];

  /** Writes a key as four ids of this table (adding its strings). */
  writeKey(w: ByteWriter, s: SeriesState): void {
    if (s.deviceKeys === undefined || s.deviceKeys !== this.lastDevice) {
      this.lastDevice = s.deviceKeys;
      this.lastDeviceIds = [this.id(s.device), this.id(s.deviceTags)];
    }
    w.varint(this.lastDeviceIds[0]);
    w.varint(this.lastDeviceIds[1]);
    w.varint(this.id(s.metric));
    w.varint(this.id(s.readingTags));
  }

  /** Writes the table (read back with KeyIndex.readTable). */
  writeTo(w: ByteWriter): void {
    w.varint(this.ids.size);
    for (const str of this.ids.keys()) w.string(str);
  }

  private id(s: string): number {
    let g = this.ids.get(s);
    if (g === undefined) this.ids.set(s, (g = this.ids.size));
    return g;
  }
}
