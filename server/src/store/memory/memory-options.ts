/**
 * Options of the memory backend: its own knobs, beside the contract's limits (session-limits.ts),
 * which are the same for every backend.
 */
export interface MemoryOptions {
  /**
   * Number of independent partitions of the sessions, each with its own session table and key
   * index, expiry index, lease heap and waiter queues. Default 16. A table grows on its own (growing
   * copies its columns and rebuilds its key index: a pause in proportion to its shard's sessions,
   * not to all of them), and expiry slices start at a rotating shard, so a slice that runs out of
   * budget leaves the rest to the next one without starving any shard.
   */
  readonly shards: number;
  /**
   * Apps that may have sessions at once; a write that would add one more app gets
   * RESOURCE_EXHAUSTED (TOO_MANY_APPS). An app with no sessions costs nothing. Default 10,000.
   */
  readonly maxApps: number;
  /**
   * Memory budget in bytes, counting payload slab chunks, session ids and a fixed per-session
   * overhead; a write that would pass it fails with RESOURCE_EXHAUSTED (MEMORY_BUDGET). Default 1 GiB.
   */
  readonly maxMemoryBytes: number;
  /** How often the active expiry cycle runs, in ms. Default 100 (Redis's hz 10). */
  readonly expiryIntervalMs: number;
  /** CPU time budget of one expiry cycle across all shards, in ms. Default 5. */
  readonly expirySliceBudgetMs: number;
}

/** The defaults listed on {@link MemoryOptions}. */
export const DEFAULT_MEMORY_OPTIONS: MemoryOptions = Object.freeze({
  shards: 16,
  maxApps: 10_000,
  maxMemoryBytes: 1024 * 1024 * 1024,
  expiryIntervalMs: 100,
  expirySliceBudgetMs: 5,
});
