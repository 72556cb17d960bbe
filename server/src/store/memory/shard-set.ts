import { KEY_LIMITS } from "@stateward/protocol/contract";
import { KEY_LAYOUT, PAYLOAD_LAYOUT, PayloadSlabs } from "./payload-slabs";
import { SessionShard, ownerShard, ownerSlot } from "./session-shard";

/**
 * The shards and the slabs they share: payloads in one allocator and session ids in another (one
 * set of partly filled pages each, not one per shard). Compaction moves chunks of any shard's
 * sessions; the set tells the owning slot its chunk's new place (a location, not session state:
 * the bytes are the same).
 */
export class ShardSet {
  /** The shards, by index (a key's shard is its hash modulo their number). */
  readonly shards: readonly SessionShard[];
  /** Payload chunks. */
  readonly payloads: PayloadSlabs;
  /** Session id chunks. */
  readonly keys: PayloadSlabs;

  /**
   * @param count - the number of shards (a positive integer).
   * @param maxItemBytes - the largest payload (decides the largest slab class).
   */
  constructor(count: number, maxItemBytes: number) {
    const shards: SessionShard[] = [];
    this.payloads = new PayloadSlabs(maxItemBytes, PAYLOAD_LAYOUT, (owner, handle) => {
      (shards[ownerShard(owner, count)] as SessionShard).table.payload[ownerSlot(owner, count)] = handle;
    });
    this.keys = new PayloadSlabs(KEY_LIMITS.maxSessionIdBytes, KEY_LAYOUT, (owner, handle) => {
      (shards[ownerShard(owner, count)] as SessionShard).table.keyChunk[ownerSlot(owner, count)] = handle;
    });
    for (let i = 0; i < count; i++) shards.push(new SessionShard(i, count, this.keys));
    this.shards = shards;
  }

  /** The shard of a key hash (see `keyHash`). */
  of(hash: number): SessionShard {
    return this.shards[hash % this.shards.length] as SessionShard;
  }

  /** Resident sessions, over all shards (expired ones not reclaimed yet included). */
  get sessions(): number {
    let sessions = 0;
    for (const shard of this.shards) sessions += shard.table.size;
    return sessions;
  }

  /** Whether either slab allocator waits for a compaction slice. */
  get compactionPending(): boolean {
    return this.payloads.compactionPending || this.keys.compactionPending;
  }
}
