import { IndexedHeap } from "./indexed-heap";

/** Width of an expiry bucket: sessions are filed under the second their deadline falls in. */
export const BUCKET_MS = 1000;

interface Bucket {
  readonly second: number;
  readonly slots: number[];
  heapPosition: number;
}

/**
 * The expiry index of one shard: slots filed in one-second buckets by deadline, buckets ordered by
 * a heap. A sliding touch does not move a slot (that would cost on every read); instead, when its
 * bucket comes due, a slot whose deadline moved later is re-filed. Each slot is therefore filed in
 * one bucket at a time (plus stale entries left behind when a deadline moves earlier, which are
 * skipped), and sweeping costs in proportion to what comes due, not to what is resident.
 */
export class ExpiryIndex {
  private readonly buckets = new Map<number, Bucket>();
  private readonly order = new IndexedHeap<Bucket>(
    (bucket) => bucket.second,
    (bucket, position) => {
      bucket.heapPosition = position;
    },
  );
  /** How far into the earliest bucket a sweep that ran out of budget got. */
  private cursor = 0;

  /** The bucket (second) a deadline belongs in. */
  static bucketOf(deadlineMs: number): number {
    return Math.floor(deadlineMs / BUCKET_MS);
  }

  /** Files `slot` under `second`. */
  add(slot: number, second: number): void {
    let bucket = this.buckets.get(second);
    if (bucket === undefined) {
      bucket = { second, slots: [], heapPosition: -1 };
      this.buckets.set(second, bucket);
      this.order.push(bucket);
    }
    bucket.slots.push(slot);
  }

  /** Epoch ms at which the earliest bucket comes due (Infinity when empty). */
  nextDueAt(): number {
    return (this.order.peekKey() + 1) * BUCKET_MS;
  }

  /**
   * Visits the entries of every bucket due at `now`, in deadline order, calling `visit(slot,
   * second)`; `visit` decides (expire, re-file or skip a stale entry). Stops early when `outOfBudget`
   * says so (checked every 64 entries) and resumes there next time.
   * @returns true if no bucket is due any more; false if it stopped for the budget.
   */
  sweep(now: number, visit: (slot: number, second: number) => void, outOfBudget: () => boolean): boolean {
    let visited = 0;
    for (;;) {
      const bucket = this.order.peek();
      if (bucket === undefined || (bucket.second + 1) * BUCKET_MS > now) return true;
      const slots = bucket.slots;
      while (this.cursor < slots.length) {
        visit(slots[this.cursor++] as number, bucket.second);
        if ((++visited & 63) === 0 && outOfBudget()) return false;
      }
      // By position, not pop(): a visit may have filed a slot under an even earlier bucket.
      this.order.removeAt(bucket.heapPosition);
      this.buckets.delete(bucket.second);
      this.cursor = 0;
    }
  }

  /**
   * Visits the entries filed under `second` as they are now (entries `visit` files meanwhile are
   * not visited), without removing the bucket.
   */
  forEachIn(second: number, visit: (slot: number) => void): void {
    const bucket = this.buckets.get(second);
    if (bucket === undefined) return;
    const slots = bucket.slots;
    const count = slots.length;
    for (let i = 0; i < count; i++) visit(slots[i] as number);
  }
}
