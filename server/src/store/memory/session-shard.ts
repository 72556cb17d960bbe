import { ExpiryIndex } from "./expiry-index";
import { IndexedHeap } from "./indexed-heap";
import { SessionTable } from "./session-table";
import type { PayloadSlabs } from "./payload-slabs";
import type { Waiter } from "./waiter";

/**
 * The owner number of a slot's slab chunks: unique across shards, and mapped back by
 * {@link ownerShard} and {@link ownerSlot} when compaction moves a chunk.
 */
export function slotOwner(slot: number, shard: number, shardCount: number): number {
  return slot * shardCount + shard;
}

/** The shard of an owner number (see {@link slotOwner}). */
export function ownerShard(owner: number, shardCount: number): number {
  return owner % shardCount;
}

/** The slot of an owner number (see {@link slotOwner}). */
export function ownerSlot(owner: number, shardCount: number): number {
  return Math.floor(owner / shardCount);
}

/**
 * One independent partition of the sessions: its own session table and key index, expiry index,
 * lease heap and waiter queues (payloads and ids live in slabs shared by all shards). Shards bound
 * the cost of growing a table (its columns are copied and its key index rebuilt, a pause in
 * proportion to the shard's sessions) and let expiry slices take turns across them.
 */
export class SessionShard {
  /** Per-session columns and the key index. */
  readonly table: SessionTable;
  /** The owner number of a slot's slab chunks (see {@link slotOwner}). */
  readonly ownerOf: (slot: number) => number;
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

  /**
   * @param index - the shard's position among the shards.
   * @param count - the number of shards.
   * @param keys - the session-id slabs shared by the shards.
   */
  constructor(index: number, count: number, keys: PayloadSlabs) {
    this.ownerOf = (slot) => slotOwner(slot, index, count);
    const table = new SessionTable(keys, this.ownerOf);
    this.table = table;
    this.leases = new IndexedHeap<number>(
      (slot) => table.leaseEnd[slot] as number,
      (slot, position) => {
        table.leaseHeapPosition[slot] = position;
      },
    );
  }

  /**
   * Files `slot` in the expiry index under `deadline`'s bucket (the slot's earlier entries go
   * stale and are skipped when their bucket comes due).
   * @returns when the shard's earliest bucket comes due, for the timer.
   */
  fileExpiry(slot: number, deadline: number): number {
    const bucket = ExpiryIndex.bucketOf(deadline);
    this.table.expiryBucket[slot] = bucket;
    this.expiry.add(slot, bucket);
    return this.expiry.nextDueAt();
  }

  /**
   * Files `slot` again if `deadline` falls in an earlier bucket than the one it is filed in (its
   * deadline moved earlier: a shorter ttl, or a lock ended after expiry was deferred to the lease
   * end), so that the sweep still finds it in time. A later deadline needs nothing: the entry is
   * re-filed when its bucket comes due.
   * @returns when the shard's earliest bucket comes due, or Infinity if nothing was filed.
   */
  fileIfEarlier(slot: number, deadline: number): number {
    const earlier = ExpiryIndex.bucketOf(deadline) < (this.table.expiryBucket[slot] as number);
    return earlier ? this.fileExpiry(slot, deadline) : Infinity;
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
