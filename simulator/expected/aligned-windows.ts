import { MinHeap } from './min-heap.js';
import { floorTo, type PointSink, type Series, type WindowTracker } from './series.js';
import { ChunkPool, Scratch, ValueList } from './value-list.js';

/**
 * Tumbling and sliding windows: [s, s + size) for every s that is a multiple of `slide`
 * (tumbling: slide = size), aligned to the epoch. A reading at t belongs to each window
 * with s ≤ t < s + size.
 *
 * Each reading is kept once, in its pane: the span of g = gcd(size, slide) ms holding it.
 * Window bounds are multiples of g, so a window is exactly the union of its size/g panes
 * and is computed from them when final. A pane is freed once the last window holding it
 * (the one starting at floorTo(pane, slide)) is final.
 */
interface Pane {
  start: number;
  values: ValueList;
  /** Value at the smallest event time; a tie keeps the earlier reading (smaller order). */
  firstTime: number;
  firstOrder: number;
  firstValue: number;
  /** Value at the largest event time; a tie takes the later reading. */
  lastTime: number;
  lastOrder: number;
  lastValue: number;
}

interface Slot {
  panes: Map<number, Pane>;
  /** The pane the last reading went to: in-order data hits it again. */
  recent: Pane | undefined;
  /** Starts of this series' non-empty windows not yet final. */
  windows: Set<number>;
  /**
   * Per window start, the readings that went to that window but not to all of theirs (a
   * sliding window's earlier windows had closed): a pane would put them in all of them.
   */
  partial: Map<number, Pane> | undefined;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

export class AlignedWindows implements WindowTracker {
  private readonly pane: number;
  /** Ends of the windows not yet final, and per end the series with readings in that window. */
  private readonly ends = new MinHeap<number>();
  private readonly byEnd = new Map<number, Series[]>();
  private readonly scratch = new Scratch();
  private readonly pool = new ChunkPool();
  /** Readings added so far: breaks first/last ties between a window's panes and its partial readings. */
  private order = 0;

  constructor(
    private readonly slotIndex: number,
    private readonly size: number,
    private readonly slide: number,
    private readonly emit: PointSink,
  ) {
    this.pane = gcd(size, slide);
  }

  add(series: Series, t: number, v: number, closedBefore: number): boolean {
    let slot = series.slots[this.slotIndex] as Slot | undefined;
    const newest = floorTo(t, this.slide);
    if (newest + this.size <= closedBefore) return false; // every window of t is closed
    if (slot === undefined) series.slots[this.slotIndex] = slot = { panes: new Map(), recent: undefined, windows: new Set(), partial: undefined };
    const order = this.order++;
    const oldest = floorTo(t - this.size + this.slide, this.slide);
    if (oldest + this.size <= closedBefore) {
      for (let s = newest; s > t - this.size && s + this.size > closedBefore; s -= this.slide) {
        slot.partial ??= new Map();
        const pane = slot.partial.get(s);
        if (pane === undefined) slot.partial.set(s, newPane(s, t, order, v, this.pool));
        else addTo(pane, t, order, v);
        this.registerWindow(series, slot, s);
      }
      return true;
    }
    const start = floorTo(t, this.pane);
    let pane = slot.recent;
    if (pane === undefined || pane.start !== start) {
      pane = slot.panes.get(start);
      if (pane === undefined) {
        slot.panes.set(start, (pane = newPane(start, t, order, v, this.pool)));
        this.register(series, slot, t);
        slot.recent = pane;
        return true;
      }
      slot.recent = pane;
    }
    addTo(pane, t, order, v);
    return true;
  }

  /** Notes every window holding t as non-empty for the series (once per window). */
  private register(series: Series, slot: Slot, t: number): void {
    for (let s = floorTo(t, this.slide); s > t - this.size; s -= this.slide) this.registerWindow(series, slot, s);
  }

  private registerWindow(series: Series, slot: Slot, s: number): void {
    if (slot.windows.has(s)) return;
    slot.windows.add(s);
    const end = s + this.size;
    const list = this.byEnd.get(end);
    if (list !== undefined) list.push(series);
    else {
      this.byEnd.set(end, [series]);
      this.ends.push(end, end);
    }
  }

  advance(watermark: number): void {
    while (this.ends.size > 0 && this.ends.peekKey() <= watermark) {
      const end = this.ends.pop()!;
      const list = this.byEnd.get(end)!;
      this.byEnd.delete(end);
      for (const series of list) this.finish(series, end - this.size, end);
    }
  }

  /** Emits the series' window [s, end) from its panes, then frees the panes no later window holds. */
  private finish(series: Series, s: number, end: number): void {
    const slot = series.slots[this.slotIndex] as Slot;
    const panes: Pane[] = [];
    if ((end - s) / this.pane <= slot.panes.size) {
      for (let p = s; p < end; p += this.pane) {
        const pane = slot.panes.get(p);
        if (pane !== undefined) panes.push(pane);
      }
    } else {
      for (const pane of slot.panes.values()) if (pane.start >= s && pane.start < end) panes.push(pane);
      panes.sort((a, b) => a.start - b.start);
    }
    const partial = slot.partial?.get(s);
    if (partial !== undefined) {
      panes.push(partial);
      slot.partial!.delete(s);
    }
    let n = 0;
    for (const pane of panes) n += pane.values.length;
    const values = this.scratch.take(n);
    let at = 0;
    let first = panes[0]!;
    let last = panes[0]!;
    for (const pane of panes) {
      pane.values.copyTo(values, at);
      at += pane.values.length;
      if (pane.firstTime < first.firstTime || (pane.firstTime === first.firstTime && pane.firstOrder < first.firstOrder)) first = pane;
      if (pane.lastTime > last.lastTime || (pane.lastTime === last.lastTime && pane.lastOrder > last.lastOrder)) last = pane;
    }
    if (partial !== undefined) partial.values.release();
    this.emit(series, s, values, first.firstValue, last.lastValue);
    const keepFrom = Math.min(s + this.slide, end);
    const drop = (p: number): void => {
      const pane = slot.panes.get(p);
      if (pane === undefined) return;
      pane.values.release();
      slot.panes.delete(p);
    };
    if ((keepFrom - s) / this.pane <= slot.panes.size) for (let p = s; p < keepFrom; p += this.pane) drop(p);
    else for (const p of [...slot.panes.keys()]) if (p < keepFrom) drop(p);
    if (slot.recent !== undefined && slot.recent.start < keepFrom) slot.recent = undefined;
    slot.windows.delete(s);
  }
}

function newPane(start: number, t: number, order: number, v: number, pool: ChunkPool): Pane {
  const pane: Pane = { start, values: new ValueList(pool), firstTime: t, firstOrder: order, firstValue: v, lastTime: t, lastOrder: order, lastValue: v };
  pane.values.push(v);
  return pane;
}

function addTo(pane: Pane, t: number, order: number, v: number): void {
  pane.values.push(v);
  if (t < pane.firstTime) {
    pane.firstTime = t;
    pane.firstOrder = order;
    pane.firstValue = v;
  }
  if (t >= pane.lastTime) {
    pane.lastTime = t;
    pane.lastOrder = order;
    pane.lastValue = v;
  }
}
