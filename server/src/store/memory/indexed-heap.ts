/**
 * A binary min-heap that knows where each item sits, so that any item can be removed in O(log n),
 * not only the smallest. An item's key must not change while it is in the heap (remove it and push
 * it again). Used for lease ends, waiter deadlines and expiry buckets: one structure per shard
 * instead of one timer per lock or waiter.
 */
export class IndexedHeap<T> {
  private readonly items: T[] = [];

  /**
   * @param keyOf - the item's priority (smallest first).
   * @param setPosition - records the item's index in the heap (-1 when it leaves).
   */
  constructor(
    private readonly keyOf: (item: T) => number,
    private readonly setPosition: (item: T, position: number) => void,
  ) {}

  /** Number of items. */
  get size(): number {
    return this.items.length;
  }

  /** The item with the smallest key, if any. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** The smallest key, or Infinity when empty. */
  peekKey(): number {
    const top = this.items[0];
    return top === undefined ? Infinity : this.keyOf(top);
  }

  /** Adds an item that is not in the heap. */
  push(item: T): void {
    this.items.push(item);
    this.setPosition(item, this.items.length - 1);
    this.siftUp(this.items.length - 1);
  }

  /** Removes and returns the smallest item. */
  pop(): T | undefined {
    const top = this.items[0];
    if (top !== undefined) this.removeAt(0);
    return top;
  }

  /** Removes the item at `position` (as recorded through setPosition). */
  removeAt(position: number): void {
    const items = this.items;
    const removed = items[position];
    if (removed === undefined) return;
    const last = items.pop() as T;
    this.setPosition(removed, -1);
    if (position === items.length) return;
    items[position] = last;
    this.setPosition(last, position);
    this.siftDown(position);
    this.siftUp(position);
  }

  /** Removes every item. */
  clear(): void {
    for (const item of this.items) this.setPosition(item, -1);
    this.items.length = 0;
  }

  private siftUp(start: number): void {
    const items = this.items;
    let i = start;
    const item = items[i] as T;
    const key = this.keyOf(item);
    while (i > 0) {
      const parentAt = (i - 1) >> 1;
      const parent = items[parentAt] as T;
      if (this.keyOf(parent) <= key) break;
      items[i] = parent;
      this.setPosition(parent, i);
      i = parentAt;
    }
    items[i] = item;
    this.setPosition(item, i);
  }

  private siftDown(start: number): void {
    const items = this.items;
    const n = items.length;
    let i = start;
    const item = items[i] as T;
    const key = this.keyOf(item);
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      let childKey = this.keyOf(items[left] as T);
      if (right < n) {
        const rightKey = this.keyOf(items[right] as T);
        if (rightKey < childKey) {
          child = right;
          childKey = rightKey;
        }
      }
      if (childKey >= key) break;
      const moved = items[child] as T;
      items[i] = moved;
      this.setPosition(moved, i);
      i = child;
    }
    items[i] = item;
    this.setPosition(item, i);
  }
}
