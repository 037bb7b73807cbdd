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
  /** Value at the smallest event time; a tie keeps the earlier reading. */
  firstTime: number;
  firstValue: number;
  /** Value at the largest event time; a tie takes the later reading. */
  lastTime: number;
  lastValue: number;
}

interface Slot {
  panes: Map<number, Pane>;
  /** The pane the last reading went to: in-order data hits it again. */
  recent: Pane | undefined;
  /** Starts of this series' non-empty windows not yet final. */
  windows: Set<number>;
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

  constructor(
    private readonly slotIndex: number,
    private readonly size: number,
    private readonly slide: number,
    private readonly emit: PointSink,
  ) {
    this.pane = gcd(size, slide);
  }

  add(series: Series, t: number, v: number): void {
    let slot = series.slots[this.slotIndex] as Slot | undefined;
    if (slot === undefined) series.slots[this.slotIndex] = slot = { panes: new Map(), recent: undefined, windows: new Set() };
    const start = floorTo(t, this.pane);
    let pane = slot.recent;
    if (pane === undefined || pane.start !== start) {
      pane = slot.panes.get(start);
      if (pane === undefined) {
        pane = { start, values: new ValueList(this.pool), firstTime: t, firstValue: v, lastTime: t, lastValue: v };
        slot.panes.set(start, pane);
        this.register(series, slot, t);
      }
      slot.recent = pane;
    }
    pane.values.push(v);
    if (t < pane.firstTime) {
      pane.firstTime = t;
      pane.firstValue = v;
    }
    if (t >= pane.lastTime) {
      pane.lastTime = t;
      pane.lastValue = v;
    }
  }

  /** Notes every window holding t as non-empty for the series (once per window). */
  private register(series: Series, slot: Slot, t: number): void {
    for (let s = floorTo(t, this.slide); s > t - this.size; s -= this.slide) {
      if (slot.windows.has(s)) continue;
      slot.windows.add(s);
      const end = s + this.size;
      const list = this.byEnd.get(end);
      if (list !== undefined) list.push(series);
      else {
        this.byEnd.set(end, [series]);
        this.ends.push(end, end);
      }
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
    let n = 0;
    for (const pane of panes) n += pane.values.length;
    const values = this.scratch.take(n);
    let at = 0;
    for (const pane of panes) {
      pane.values.copyTo(values, at);
      at += pane.values.length;
    }
    // Panes are disjoint in time: the window's first is its earliest pane's, its last the latest pane's.
    this.emit(series, s, values, panes[0]!.firstValue, panes[panes.length - 1]!.lastValue);
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
