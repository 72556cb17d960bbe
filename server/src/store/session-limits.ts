/**
 * Limits and defaults of the contract, the same whatever backend holds the sessions; the
 * backend-neutral {@link SessionStore} applies them once. A backend's own knobs (the memory budget,
 * the expiry cycle) are its options, not these.
 */
export interface SessionLimits {
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
  /** Largest session payload in bytes; above it INVALID_ARGUMENT (ITEM_TOO_LARGE). Default 1 MiB. */
  readonly maxItemBytes: number;
}

/** The defaults listed on {@link SessionLimits}. */
export const DEFAULT_SESSION_LIMITS: SessionLimits = Object.freeze({
  defaultTtlSeconds: 1200,
  maxTtlSeconds: 31_536_000,
  defaultLockLeaseMs: 110_000,
  maxLockLeaseMs: 3_600_000,
  maxWaitMs: 120_000,
  maxWaiters: 50,
  maxItemBytes: 1024 * 1024,
});
