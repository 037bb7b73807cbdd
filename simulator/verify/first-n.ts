/** Keeps the n smallest items seen (by `compare`), sorted: "the first n" of a long stream without holding it. */
export class FirstN<T> {
  readonly items: T[] = [];

  constructor(
    private readonly n: number,
    private readonly compare: (a: T, b: T) => number,
  ) {}

  offer(item: T): void {
    const items = this.items;
    if (this.n <= 0 || (items.length === this.n && this.compare(item, items[items.length - 1]!) >= 0)) return;
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compare(items[mid]!, item) <= 0) lo = mid + 1;
      else hi = mid;
    }
    items.splice(lo, 0, item);
    if (items.length > this.n) items.pop();
  }
}
