/**
 * Event-time timers (Flink: InternalTimerService), as a binary min-heap of
 * (time, item). Removal is lazy: the owner keeps the time of an item's live timer
 * and ignores popped entries that no longer match it, which is cheaper than
 * finding and deleting entries when a session's end moves.
 */
export class TimerQueue<T> {
  private readonly times: number[] = [];
  private readonly items: T[] = [];

  /** Entries held, stale ones included. */
  get size(): number {
    return this.times.length;
  }

  /** Time of the earliest entry (Infinity when empty). */
  peekTime(): number {
    return this.times.length === 0 ? Infinity : this.times[0]!;
  }

  /** Adds an entry. */
  push(time: number, item: T): void {
    const times = this.times;
    const items = this.items;
    let i = times.length;
    times.push(time);
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (times[parent]! <= time) break;
      times[i] = times[parent]!;
      items[i] = items[parent]!;
      i = parent;
    }
    times[i] = time;
    items[i] = item;
  }

  /** Removes the earliest entry and returns its item; the caller read its time with peekTime(). */
  pop(): T {
    const times = this.times;
    const items = this.items;
    const top = items[0]!;
    const lastTime = times.pop()!;
    const lastItem = items.pop()!;
    const n = times.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && times[r]! < times[l]! ? r : l;
        if (times[c]! >= lastTime) break;
        times[i] = times[c]!;
        items[i] = items[c]!;
        i = c;
      }
      times[i] = lastTime;
      items[i] = lastItem;
    }
    return top;
  }

  /** Drops every entry. */
  clear(): void {
    this.times.length = 0;
    this.items.length = 0;
  }
}
