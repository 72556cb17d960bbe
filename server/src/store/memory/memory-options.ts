/** Limits and defaults of a {@link SessionStore}; every field documented with its default. */
export interface StoreOptions {
  /** Number of independent shards (map, expiry index, lock table each). Default 16. */
  readonly shards: number;
  /** TTL of a session when a request gives 0, in seconds. Default 1200 (20 minutes, as ASP.NET). */
  readonly defaultTtlSeconds: number;
  /** Largest ttl a request may ask for, in seconds. Default 31,536,000 (one year). */
  readonly maxTtlSeconds: number;
  /** Lease of a lock when a request gives 0, in ms. Default 110,000 (ASP.NET's executionTimeout). */
  readonly defaultLockLeaseMs: number;
  /** Largest lease a request may ask for, in ms; above it INVALID_ARGUMENT. Default 3,600,000. */
  readonly maxLockLeaseMs: number;
  /** Cap on a Get/Lock wait, in ms (longer waits are shortened, not refused). Default 120,000. */
  readonly maxWaitMs: number;
  /** Waiters per session; the next one is refused (RESOURCE_EXHAUSTED). Default 50 (ASP.NET). */
  readonly maxWaiters: number;
  /**
   * Apps that may have sessions at once; a write that would add one more app gets
   * RESOURCE_EXHAUSTED (TOO_MANY_APPS). An app with no sessions costs nothing. Default 10,000.
   */
  readonly maxApps: number;
  /** Largest session payload in bytes; above it INVALID_ARGUMENT. Default 1 MiB. */
  readonly maxItemBytes: number;
  /**
   * Memory budget in bytes, counting payload slab chunks, keys and a fixed per-session overhead;
   * a write that would pass it fails with RESOURCE_EXHAUSTED. Default 1 GiB.
   */
  readonly maxMemoryBytes: number;
  /** How often the active expiry cycle runs, in ms. Default 100 (Redis's hz 10). */
  readonly expiryIntervalMs: number;
  /** CPU time budget of one expiry cycle across all shards, in ms. Default 5. */
  readonly expirySliceBudgetMs: number;
}

/** Hard limits from the contract (not configurable). */
export const KEY_LIMITS = {
  /** Longest app name, in bytes. */
  maxAppBytes: 128,
  /** Longest session id, in bytes. */
  maxSessionIdBytes: 256,
} as const;

/** The defaults listed on {@link StoreOptions}. */
export const DEFAULT_STORE_OPTIONS: StoreOptions = Object.freeze({
  shards: 16,
  defaultTtlSeconds: 1200,
  maxTtlSeconds: 31_536_000,
  defaultLockLeaseMs: 110_000,
  maxLockLeaseMs: 3_600_000,
  maxWaitMs: 120_000,
  maxWaiters: 50,
  maxApps: 10_000,
  maxItemBytes: 1024 * 1024,
  maxMemoryBytes: 1024 * 1024 * 1024,
  expiryIntervalMs: 100,
  expirySliceBudgetMs: 5,
});
