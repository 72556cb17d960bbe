import type { AppRegistry } from "./app-registry";
import type { LockIds } from "./lock-ids";
import { sessionBytes, type MemoryBudget } from "./memory-budget";
import type { MemoryCounters } from "./memory-stats";
import { NO_CHUNK } from "./payload-slabs";
import type { SessionShard } from "./session-shard";
import type { ShardSet } from "./shard-set";
import type { StoreTimer } from "./store-timer";

/**
 * Every change of a session's state, and nothing else: the one place that writes the state
 * columns of the session tables (version, ttl, deadline, payload, lock and lock history), so that
 * a durability log can be attached here, one record per call. What follows a change (serving a
 * queue, answering waiters, telling Watch) is the callers' business; the index bookkeeping that
 * goes with a change (the expiry bucket, the lease heap, the memory charged, the app's session
 * count, the timer) happens here with it.
 *
 * Callers check first (conflicts, the budget, the app limit): these methods do not refuse.
 */
export class SessionChanges {
  /**
   * @param shards - the shards and the slabs they share.
   * @param budget - charged for every byte a session holds.
   * @param apps - counts each app's sessions.
   * @param lockIds - issues lock ids.
   * @param counters - the lock gauges and counters.
   * @param timer - armed for lease ends, expiry buckets and compaction.
   */
  constructor(
    private readonly shards: ShardSet,
    private readonly budget: MemoryBudget,
    private readonly apps: AppRegistry,
    private readonly lockIds: LockIds,
    private readonly counters: MemoryCounters,
    private readonly timer: StoreTimer,
  ) {}

  /**
   * Creates a session (unlocked, version 1) holding `data`, expiring `ttlSeconds` after `now`.
   * @returns its slot.
   */
  create(shard: SessionShard, app: string, sessionId: string, hash: number, ttlSeconds: number, data: Uint8Array, now: number): number {
    const table = shard.table;
    const slot = table.allocate(this.apps.acquire(app), sessionId, hash);
    const expiresAt = now + ttlSeconds * 1000;
    table.version[slot] = 1;
    table.ttlSeconds[slot] = ttlSeconds;
    table.expiresAt[slot] = expiresAt;
    table.lockId[slot] = 0;
    // Lock ids below this one are from before this session existed (a late write: SESSION_GONE).
    table.firstLockId[slot] = this.lockIds.upcoming;
    table.lastReleasedLockId[slot] = 0;
    table.lastLeaseExpiredLockId[slot] = 0;
    table.payload[slot] = NO_CHUNK;
    table.payloadLength[slot] = 0;
    this.budget.charge(sessionBytes(sessionId.length));
    this.timer.arm(shard.fileExpiry(slot, expiresAt));
    this.storePayload(shard, slot, data, now);
    return slot;
  }

  /**
   * Replaces an existing session's data and counts a new version.
   * @returns the new version.
   */
  write(shard: SessionShard, slot: number, data: Uint8Array, now: number): number {
    this.storePayload(shard, slot, data, now);
    const table = shard.table;
    const version = (table.version[slot] as number) + 1;
    table.version[slot] = version;
    return version;
  }

  /** Restarts the sliding window (the expiry index catches up lazily, see ExpiryIndex). */
  touch(shard: SessionShard, slot: number, now: number): void {
    const table = shard.table;
    table.expiresAt[slot] = now + (table.ttlSeconds[slot] as number) * 1000;
  }

  /** Sets a new ttl and restarts the window with it. */
  setTtl(shard: SessionShard, slot: number, ttlSeconds: number, now: number): void {
    const table = shard.table;
    const expiresAt = now + ttlSeconds * 1000;
    table.ttlSeconds[slot] = ttlSeconds;
    table.expiresAt[slot] = expiresAt;
    this.timer.arm(shard.fileIfEarlier(slot, expiresAt));
  }

  /**
   * Locks an unlocked session for `leaseMs`.
   * @returns the new lock id.
   */
  grantLock(shard: SessionShard, slot: number, leaseMs: number, now: number): number {
    const table = shard.table;
    const lockId = this.lockIds.issue();
    const leaseEnd = now + leaseMs;
    table.lockId[slot] = lockId;
    table.lockedAt[slot] = now;
    table.leaseEnd[slot] = leaseEnd;
    shard.leases.push(slot);
    this.counters.lockedSessions++;
    this.counters.lockGrants++;
    this.timer.arm(leaseEnd);
    return lockId;
  }

  /** The holder released its lock (Release, or a Set that writes and releases). */
  releaseLock(shard: SessionShard, slot: number): void {
    const table = shard.table;
    table.lastReleasedLockId[slot] = table.lockId[slot] as number;
    this.unlock(shard, slot);
  }

  /** The backend released a lock whose lease ended (ASP.NET's release after executionTimeout). */
  endLease(shard: SessionShard, slot: number): void {
    const table = shard.table;
    table.lastLeaseExpiredLockId[slot] = table.lockId[slot] as number;
    this.counters.leaseExpiries++;
    this.unlock(shard, slot);
  }

  /** Deletes a session with its lock and payload (its waiters must have left their queue). */
  delete(shard: SessionShard, slot: number, now: number): void {
    const table = shard.table;
    if (table.lockId[slot] !== 0) this.unlock(shard, slot);
    const payloads = this.shards.payloads;
    const payload = table.payload[slot] as number;
    this.budget.charge(-(sessionBytes(table.keyLength[slot] as number) + payloads.chunkBytesOf(payload)));
    payloads.free(payload);
    this.apps.release(table.appIndex[slot] as number);
    table.free(slot);
    if (this.shards.compactionPending) this.timer.armSlice(now);
  }

  private storePayload(shard: SessionShard, slot: number, data: Uint8Array, now: number): void {
    const table = shard.table;
    const payloads = this.shards.payloads;
    const previous = table.payload[slot] as number;
    const before = payloads.chunkBytesOf(previous);
    const handle = payloads.write(data, previous, shard.ownerOf(slot));
    table.payload[slot] = handle;
    table.payloadLength[slot] = data.length;
    this.budget.charge(payloads.chunkBytesOf(handle) - before);
    // A new chunk freed the old one, which may leave its size class to compact.
    if (handle !== previous && this.shards.compactionPending) this.timer.armSlice(now);
  }

  private unlock(shard: SessionShard, slot: number): void {
    shard.table.lockId[slot] = 0;
    const position = shard.table.leaseHeapPosition[slot] as number;
    if (position >= 0) shard.leases.removeAt(position);
    this.counters.lockedSessions--;
  }
}
