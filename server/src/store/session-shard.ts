import { ExpiryIndex } from "./expiry-index";
import { IndexedHeap } from "./indexed-heap";
import { SessionTable } from "./session-table";
import type { Waiter } from "./waiter";

/**
 * One independent partition of the store: its own session table, key maps, expiry index, lease
 * heap and waiter queues. Shards bound each sweep and keep every JS Map far below V8's ~16.7 M
 * entry limit.
 */
export class SessionShard {
  /** Per-session columns and the key index. */
  readonly table = new SessionTable();
  /** Deadline-ordered slots, for active expiry. */
  readonly expiry = new ExpiryIndex();
  /** Locked slots ordered by lease end. */
  readonly leases: IndexedHeap<number>;
  /** Waiting calls ordered by their deadline. */
  readonly waiterDeadlines = new IndexedHeap<Waiter>(
    (waiter) => waiter.deadline,
    (waiter, position) => {
      waiter.heapPosition = position;
    },
  );
  /** FIFO queue of waiting calls per locked slot (present only while non-empty). */
  readonly queues = new Map<number, Waiter[]>();

  constructor() {
    const table = this.table;
    this.leases = new IndexedHeap<number>(
      (slot) => table.leaseEnd[slot] as number,
      (slot, position) => {
        table.leaseHeapPosition[slot] = position;
      },
    );
  }
}

/** FNV-1a over a string's char codes (keys are ASCII, so chars are bytes). */
function fnv1a(value: string, seed: number): number {
  let hash = seed;
  for (let i = 0; i < value.length; i++) {
    hash ^= value.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The 32-bit hash of (app, sessionId): picks the shard, then the bucket in its key index. */
export function keyHash(app: string, sessionId: string): number {
  return fnv1a(sessionId, fnv1a(app, 0x811c9dc5) ^ 0x5f);
}
