import type { AppRegistry } from "./app-registry";
import type { LockIds } from "./lock-ids";
import type { RestoredSession, SessionJournal, SessionRow } from "./session-journal";
import { sessionBytes, type MemoryBudget } from "./memory-budget";
import type { MemoryCounters } from "./memory-stats";
import { NO_CHUNK } from "./payload-slabs";
import type { SessionShard } from "./session-shard";
import type { ShardSet } from "./shard-set";
import type { StoreTimer } from "./store-timer";

/**
 * Every change of a session's state, and nothing else: the one place that writes the state
 * columns of the session tables (version, ttl, deadline, payload, lock and lock history), and so
 * the place where the journal (`--data-dir`, see session-journal.ts) is told: one record per
 * call, written before the change is made. A journal that cannot write throws (PERSISTENCE_FAILED)
 * and the change is not made. What follows a change (serving a queue, answering waiters, telling
 * Watch) is the callers' business; the index bookkeeping that goes with a change (the expiry
 * bucket, the lease heap, the memory charged, the app's session count, the timer) happens here
 * with it.
 *
 * Callers check first (conflicts, the budget, the app limit): apart from the journal's refusal,
 * these methods do not refuse. Lease ends and expiries are not journaled: replay derives them.
 */
export class SessionChanges {
  /**
   * @param shards - the shards and the slabs they share.
   * @param budget - charged for every byte a session holds.
   * @param apps - counts each app's sessions.
   * @param lockIds - issues lock ids.
   * @param counters - the lock gauges and counters.
   * @param timer - armed for lease ends, expiry buckets and compaction.
   * @param journal - told every change before it is made; none without `--data-dir`.
   */
  constructor(
    private readonly shards: ShardSet,
    private readonly budget: MemoryBudget,
    private readonly apps: AppRegistry,
    private readonly lockIds: LockIds,
    private readonly counters: MemoryCounters,
    private readonly timer: StoreTimer,
    private readonly journal: SessionJournal | undefined,
  ) {}

  /**
   * Creates a session (version 1) holding `data`, expiring `ttlSeconds` after `now`; locked for
   * `leaseMs` if that is above 0 (a Lock that creates), then its lock id is `table.lockId[slot]`.
   * @returns its slot.
   */
  create(
    shard: SessionShard,
    app: string,
    sessionId: string,
    hash: number,
    ttlSeconds: number,
    data: Uint8Array,
    now: number,
    leaseMs = 0,
  ): number {
    const expiresAt = now + ttlSeconds * 1000;
    // Lock ids below this one are from before this session existed (a late write: SESSION_GONE).
    const firstLockId = this.lockIds.upcoming;
    if (this.journal !== undefined) {
      this.journal.state(app, sessionId, newRow(ttlSeconds, expiresAt, leaseMs > 0 ? firstLockId : 0, now, now + leaseMs, firstLockId), data);
    }
    const table = shard.table;
    const slot = table.allocate(this.apps.acquire(app), sessionId, hash);
    table.version[slot] = 1;
    table.ttlSeconds[slot] = ttlSeconds;
    table.expiresAt[slot] = expiresAt;
    table.loggedExpiresAt[slot] = expiresAt;
    table.lockId[slot] = 0;
    table.firstLockId[slot] = firstLockId;
    table.lastReleasedLockId[slot] = 0;
    table.lastLeaseExpiredLockId[slot] = 0;
    table.payload[slot] = NO_CHUNK;
    table.payloadLength[slot] = 0;
    this.budget.charge(sessionBytes(sessionId.length));
    this.timer.arm(shard.fileExpiry(slot, expiresAt));
    this.storePayload(shard, slot, data, now);
    if (leaseMs > 0) this.lock(shard, slot, leaseMs, now);
    return slot;
  }

  /**
   * Replaces an existing session's data, counts a new version and restarts its window, with a new
   * ttl unless `ttlSeconds` is 0; `release` also releases the holder's lock (the caller then serves
   * the queue).
   * @returns the new version.
   */
  write(shard: SessionShard, slot: number, data: Uint8Array, ttlSeconds: number, release: boolean, now: number): number {
    const table = shard.table;
    const version = (table.version[slot] as number) + 1;
    const ttl = ttlSeconds === 0 ? (table.ttlSeconds[slot] as number) : ttlSeconds;
    const expiresAt = now + ttl * 1000;
    if (this.journal !== undefined) {
      const held = table.lockId[slot] as number;
      const row = { ...this.rowOf(table, slot), version, ttlSeconds: ttl, expiresAt };
      this.journal.state(this.appOf(table, slot), table.sessionIdOf(slot), release ? { ...row, lockId: 0, lastReleasedLockId: held } : row, data);
    }
    this.storePayload(shard, slot, data, now);
    table.version[slot] = version;
    this.restartWindow(shard, slot, ttl, expiresAt);
    if (release) this.releaseColumns(shard, slot);
    return version;
  }

  /**
   * Restarts the sliding window (the expiry index catches up lazily, see ExpiryIndex). Journaled at
   * most once per {@link touchStepMs} of the deadline's movement, and never refused.
   */
  touch(shard: SessionShard, slot: number, now: number): void {
    const table = shard.table;
    const ttlSeconds = table.ttlSeconds[slot] as number;
    const expiresAt = now + ttlSeconds * 1000;
    table.expiresAt[slot] = expiresAt;
    if (this.journal !== undefined && expiresAt - (table.loggedExpiresAt[slot] as number) >= touchStepMs(ttlSeconds)) {
      table.loggedExpiresAt[slot] = expiresAt;
      this.journal.touch(this.appOf(table, slot), table.sessionIdOf(slot), expiresAt);
    }
  }

  /** Restarts the window, with a new ttl unless `ttlSeconds` is 0 (Expire). */
  prolong(shard: SessionShard, slot: number, ttlSeconds: number, now: number): void {
    const table = shard.table;
    const ttl = ttlSeconds === 0 ? (table.ttlSeconds[slot] as number) : ttlSeconds;
    const expiresAt = now + ttl * 1000;
    if (this.journal !== undefined) {
      this.journal.meta(this.appOf(table, slot), table.sessionIdOf(slot), { ...this.rowOf(table, slot), ttlSeconds: ttl, expiresAt });
    }
    this.restartWindow(shard, slot, ttl, expiresAt);
  }

  /**
   * Locks an unlocked session for `leaseMs`, restarting its window.
   * @returns the new lock id.
   */
  grantLock(shard: SessionShard, slot: number, leaseMs: number, now: number): number {
    const table = shard.table;
    const expiresAt = now + (table.ttlSeconds[slot] as number) * 1000;
    if (this.journal !== undefined) {
      const row = { ...this.rowOf(table, slot), expiresAt, lockId: this.lockIds.upcoming, lockedAt: now, leaseEnd: now + leaseMs };
      this.journal.meta(this.appOf(table, slot), table.sessionIdOf(slot), row);
      table.loggedExpiresAt[slot] = expiresAt;
    }
    table.expiresAt[slot] = expiresAt;
    return this.lock(shard, slot, leaseMs, now);
  }

  /** The holder released its lock (Release), restarting the window; the caller serves the queue. */
  releaseLock(shard: SessionShard, slot: number, now: number): void {
    const table = shard.table;
    const expiresAt = now + (table.ttlSeconds[slot] as number) * 1000;
    if (this.journal !== undefined) {
      const row = { ...this.rowOf(table, slot), expiresAt, lockId: 0, lastReleasedLockId: table.lockId[slot] as number };
      this.journal.meta(this.appOf(table, slot), table.sessionIdOf(slot), row);
      table.loggedExpiresAt[slot] = expiresAt;
    }
    table.expiresAt[slot] = expiresAt;
    this.releaseColumns(shard, slot);
  }

  /**
   * A caller removes the session: journaled before anything else of the removal happens (the
   * queue is detached, Watch is told), since the removal must not happen if this throws.
   */
  journalRemoval(shard: SessionShard, slot: number): void {
    const table = shard.table;
    this.journal?.remove(this.appOf(table, slot), table.sessionIdOf(slot));
  }

  /** The backend released a lock whose lease ended (ASP.NET's release after executionTimeout). Not journaled: replay derives it. */
  endLease(shard: SessionShard, slot: number): void {
    const table = shard.table;
    table.lastLeaseExpiredLockId[slot] = table.lockId[slot] as number;
    this.counters.leaseExpiries++;
    this.unlock(shard, slot);
  }

  /**
   * Deletes a session with its lock and payload (its waiters must have left their queue). Not
   * journaled here: a removal was by {@link journalRemoval}, an expiry is derived by replay.
   */
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

  /**
   * Replay: makes (app, sessionId) what a journal record says, creating it (only with data: a meta
   * record of a session that is gone is from before its end) or overwriting it. Not journaled.
   */
  restore(shard: SessionShard, hash: number, session: RestoredSession, now: number): void {
    const { app, sessionId, row, data } = session;
    // Whether or not the record still applies, its ids were issued.
    this.lockIds.passed(Math.max(row.lockId, row.lastReleasedLockId, row.lastLeaseExpiredLockId, row.firstLockId - 1));
    const table = shard.table;
    const appIndex = this.apps.indexOf(app);
    let slot = appIndex < 0 ? -1 : table.find(appIndex, sessionId, hash);
    if (slot < 0) {
      // A meta record of a session that is not there (it ended, or its state was in a snapshot part
      // that `stateward repair` cut off): its lock ids were passed above all the same.
      if (data === undefined) return;
      slot = table.allocate(this.apps.acquire(app), sessionId, hash);
      table.lockId[slot] = 0;
      table.payload[slot] = NO_CHUNK;
      table.payloadLength[slot] = 0;
      this.budget.charge(sessionBytes(sessionId.length));
      // Not filed yet: the deadline below files it.
      table.expiryBucket[slot] = 0x7fffffff;
    }
    if (table.lockId[slot] !== 0) this.unlock(shard, slot);
    table.version[slot] = row.version;
    table.ttlSeconds[slot] = row.ttlSeconds;
    table.firstLockId[slot] = row.firstLockId;
    table.lastReleasedLockId[slot] = row.lastReleasedLockId;
    table.lastLeaseExpiredLockId[slot] = row.lastLeaseExpiredLockId;
    this.restoreDeadline(shard, slot, row.expiresAt);
    if (row.lockId !== 0) {
      table.lockId[slot] = row.lockId;
      table.lockedAt[slot] = row.lockedAt;
      table.leaseEnd[slot] = row.leaseEnd;
      shard.leases.push(slot);
      this.counters.lockedSessions++;
      this.timer.arm(row.leaseEnd);
    }
    if (data !== undefined) this.storePayload(shard, slot, data, now);
  }

  /** Replay: a journaled touch of a session that exists. Not journaled. */
  restoreDeadline(shard: SessionShard, slot: number, expiresAt: number): void {
    const table = shard.table;
    table.expiresAt[slot] = expiresAt;
    table.loggedExpiresAt[slot] = expiresAt;
    this.timer.arm(shard.fileIfEarlier(slot, expiresAt));
  }

  /** The row of a live slot, as the journal records it. */
  rowOf(table: SessionShard["table"], slot: number): SessionRow {
    return {
      version: table.version[slot] as number,
      ttlSeconds: table.ttlSeconds[slot] as number,
      expiresAt: table.expiresAt[slot] as number,
      lockId: table.lockId[slot] as number,
      lockedAt: table.lockedAt[slot] as number,
      leaseEnd: table.leaseEnd[slot] as number,
      lastReleasedLockId: table.lastReleasedLockId[slot] as number,
      lastLeaseExpiredLockId: table.lastLeaseExpiredLockId[slot] as number,
      firstLockId: table.firstLockId[slot] as number,
    };
  }

  private appOf(table: SessionShard["table"], slot: number): string {
    return this.apps.nameOf(table.appIndex[slot] as number);
  }

  private restartWindow(shard: SessionShard, slot: number, ttlSeconds: number, expiresAt: number): void {
    const table = shard.table;
    // Only a new ttl can move the deadline earlier than where it is filed.
    const changed = ttlSeconds !== table.ttlSeconds[slot];
    table.ttlSeconds[slot] = ttlSeconds;
    table.expiresAt[slot] = expiresAt;
    table.loggedExpiresAt[slot] = expiresAt;
    if (changed) this.timer.arm(shard.fileIfEarlier(slot, expiresAt));
  }

  private lock(shard: SessionShard, slot: number, leaseMs: number, now: number): number {
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

  private releaseColumns(shard: SessionShard, slot: number): void {
    const table = shard.table;
    table.lastReleasedLockId[slot] = table.lockId[slot] as number;
    this.unlock(shard, slot);
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

/** A new session's row (version 1; locked when `lockId` is not 0). */
function newRow(ttlSeconds: number, expiresAt: number, lockId: number, lockedAt: number, leaseEnd: number, firstLockId: number): SessionRow {
  return { version: 1, ttlSeconds, expiresAt, lockId, lockedAt, leaseEnd, lastReleasedLockId: 0, lastLeaseExpiredLockId: 0, firstLockId };
}

/**
 * How far a session's deadline moves before a touch is journaled again: a 64th of its ttl, at least
 * a second. A restart after a crash may thus cost a session that much of its window, and a read-heavy
 * load writes a record per session per step, not per read.
 */
export function touchStepMs(ttlSeconds: number): number {
  return Math.max(1000, (ttlSeconds * 1000) / 64);
}
