import type { BackendStats } from "../session-backend";
import type { MemoryBudget } from "./memory-budget";
import type { ShardSet } from "./shard-set";

/** The memory backend's counters and gauges: every field of {@link BackendStats} is kept. */
export type MemoryStats = BackendStats;

/**
 * The counters and the lock and waiter gauges, shared by the parts of the backend that move them
 * (plain fields: incremented on the hot path). Sessions and bytes are counted where they are kept:
 * the session tables and the memory budget.
 */
export class MemoryCounters {
  /** Sessions whose lock is held. */
  lockedSessions = 0;
  /** Calls waiting in session queues. */
  waiters = 0;
  /** Sessions removed by expiry so far. */
  expired = 0;
  /** Locks released by the backend because their lease ended. */
  leaseExpiries = 0;
  /** Locks granted so far. */
  lockGrants = 0;
  /** Active-expiry slices run so far. */
  expirySlices = 0;
  /** Longest active-expiry slice so far, in ms. */
  longestExpirySliceMs = 0;
}

/** A snapshot of the counters, with the gauges kept by the shards and the budget. */
export function memoryStats(counters: MemoryCounters, shards: ShardSet, budget: MemoryBudget): MemoryStats {
  const { payloads, keys } = shards;
  return {
    sessions: shards.sessions,
    lockedSessions: counters.lockedSessions,
    waiters: counters.waiters,
    bytesUsed: budget.bytesUsed,
    maxMemoryBytes: budget.maxMemoryBytes,
    slabBytes: payloads.pageBytes + keys.pageBytes,
    slabBytesReleased: payloads.releasedBytes + keys.releasedBytes,
    expired: counters.expired,
    leaseExpiries: counters.leaseExpiries,
    lockGrants: counters.lockGrants,
    expirySlices: counters.expirySlices,
    longestExpirySliceMs: counters.longestExpirySliceMs,
  };
}
