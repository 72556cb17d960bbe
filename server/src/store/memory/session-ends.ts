import type { BackendEvents, SessionEndReason } from "../session-backend";
import type { AppRegistry } from "./app-registry";
import type { MemoryCounters } from "./memory-stats";
import type { SessionChanges } from "./session-changes";
import type { SessionShard } from "./session-shard";
import type { StoreTimer } from "./store-timer";
import type { WaitQueues } from "./wait-queues";

/**
 * What follows when a lock or a session ends: after a release or a lease end the session's expiry
 * is filed again if it came due meanwhile and its queue is served; a deleted session's waiters are
 * answered NOT_FOUND and Watch is told. Also brings a session up to date when it is touched
 * ({@link settle}): answers never depend on whether the timer or a sweep has run yet.
 */
export class SessionEnds {
  /**
   * @param changes - makes the state changes.
   * @param waits - the sessions' queues.
   * @param apps - the app names, for session-end events.
   * @param counters - counts expiries.
   * @param timer - armed for re-filed expiries.
   * @param events - where session ends (and throwing receivers) are reported.
   */
  constructor(
    private readonly changes: SessionChanges,
    private readonly waits: WaitQueues,
    private readonly apps: AppRegistry,
    private readonly counters: MemoryCounters,
    private readonly timer: StoreTimer,
    private readonly events: BackendEvents,
  ) {}

  /**
   * Brings a slot up to date at `now`: a lease that has ended is released (serving waiters), and
   * an expired session is deleted. A locked session does not expire before its lease ends.
   * @returns false if the session is gone.
   */
  settle(shard: SessionShard, slot: number, now: number): boolean {
    const table = shard.table;
    if (table.lockId[slot] !== 0) {
      return (table.leaseEnd[slot] as number) > now || this.endLease(shard, slot, now);
    }
    if ((table.expiresAt[slot] as number) > now) return true;
    this.endSession(shard, slot, "expired", now);
    return false;
  }

  /** The holder released its lock (Release), restarting the window: the queue is served. */
  releaseLock(shard: SessionShard, slot: number, now: number): void {
    this.changes.releaseLock(shard, slot, now);
    this.afterRelease(shard, slot, now);
  }

  /**
   * The lease ended: the lock is released. A session whose deadline passed while it was locked
   * expires now, and its waiters get NOT_FOUND; otherwise the queue is served.
   * @returns false if the session expired.
   */
  endLease(shard: SessionShard, slot: number, now: number): boolean {
    this.changes.endLease(shard, slot);
    if ((shard.table.expiresAt[slot] as number) <= now) {
      this.endSession(shard, slot, "expired", now);
      return false;
    }
    this.afterRelease(shard, slot, now);
    return true;
  }

  /**
   * Deletes a session: waiters are answered NOT_FOUND, the lock and payload go with it, Watch is
   * told. A removal is journaled first (and if that throws, nothing of it happens).
   */
  endSession(shard: SessionShard, slot: number, reason: SessionEndReason, now: number): void {
    if (reason === "removed") this.changes.journalRemoval(shard, slot);
    const table = shard.table;
    const queue = this.waits.detach(shard, slot);
    const onSessionEnd = this.events.onSessionEnd;
    // The id is decoded from the slab only when someone listens, and before the slot is freed.
    const app = onSessionEnd === undefined ? "" : this.apps.nameOf(table.appIndex[slot] as number);
    const sessionId = onSessionEnd === undefined ? "" : table.sessionIdOf(slot);
    if (reason === "expired") this.counters.expired++;
    this.changes.delete(shard, slot, now);
    // Answer after the state is consistent, so a completion that calls back in sees the deletion.
    if (queue !== undefined) this.waits.answerGone(queue);
    if (onSessionEnd === undefined) return;
    try {
      onSessionEnd(app, sessionId, reason, now);
    } catch (error) {
      this.events.onCallbackError?.(error);
    }
  }

  /**
   * After a lock ended (released by its holder, by a Set, or at its lease end). A session whose
   * expiry came due while it was locked was re-filed at its lease end: file it again at its real
   * deadline, or it would stay resident (and charged) until then. Then the queue is served.
   */
  afterRelease(shard: SessionShard, slot: number, now: number): void {
    this.timer.arm(shard.fileIfEarlier(slot, shard.table.expiresAt[slot] as number));
    this.waits.serve(shard, slot, now);
  }
}
