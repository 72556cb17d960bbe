import { performance } from "node:perf_hooks";
import type { BackendEvents } from "../session-backend";
import { ExpiryIndex } from "./expiry-index";
import type { MemoryCounters } from "./memory-stats";
import type { SessionEnds } from "./session-ends";
import type { SessionShard } from "./session-shard";
import type { ShardSet } from "./shard-set";
import type { StoreTimer } from "./store-timer";
import type { WaitQueues } from "./wait-queues";

/**
 * Most CPU time a write spends reclaiming expired sessions before it is refused (the expiry cycle
 * reclaims the rest at its own pace; a mass expiry must not stall one request for seconds).
 */
const RECLAIM_BUDGET_MS = 20;

/**
 * The timed work of the backend, run by its single timer: lease ends, wait deadlines, then one
 * time-boxed active-expiry slice (Redis-style: sessions nobody touches again are deleted too) and
 * one compaction slice of the slabs. Also reclaims expired sessions on demand, before a write is
 * refused for memory or apps they still hold.
 */
export class ExpiryCycle {
  /** Where the next slice starts, so that a slice that runs out of budget starves no shard. */
  private sweepStartShard = 0;

  /**
   * @param shards - the shards and their slabs.
   * @param ends - ends leases and sessions.
   * @param waits - ends waits.
   * @param counters - slice counters.
   * @param timer - keeps the pace of slices.
   * @param options - the cycle's interval and CPU budget per slice, in ms.
   * @param events - told each slice's duration.
   */
  constructor(
    private readonly shards: ShardSet,
    private readonly ends: SessionEnds,
    private readonly waits: WaitQueues,
    private readonly counters: MemoryCounters,
    private readonly timer: StoreTimer,
    private readonly options: { readonly expiryIntervalMs: number; readonly expirySliceBudgetMs: number },
    private readonly events: BackendEvents,
  ) {}

  /**
   * Runs what is due at `now`: lease ends, wait timeouts, then an expiry slice and a compaction
   * slice if one is due.
   * @returns when the timer must fire next (Infinity: nothing pending).
   */
  runDue(now: number): number {
    const shards = this.shards.shards;
    for (const shard of shards) {
      const leases = shard.leases;
      while (leases.peekKey() <= now) this.ends.endLease(shard, leases.peek() as number, now);
      this.waits.timeOutDue(shard, now);
    }
    let sweepDone = true;
    let compactionDone = !this.shards.compactionPending;
    if (now >= this.timer.nextSliceAt) {
      sweepDone = this.sweep(now);
      compactionDone = this.compactSlice();
    }
    let next = Infinity;
    for (const shard of shards) {
      next = Math.min(next, shard.leases.peekKey(), shard.waiterDeadlines.peekKey());
      const expiryDue = shard.expiry.nextDueAt();
      if (expiryDue !== Infinity) next = Math.min(next, Math.max(expiryDue, this.timer.nextSliceAt));
    }
    if (!sweepDone || !compactionDone) next = Math.min(next, now + this.options.expiryIntervalMs);
    return next;
  }

  /**
   * Deletes sessions whose deadline has passed, beyond the cycle's pace, until `enough` says so or
   * {@link RECLAIM_BUDGET_MS} of CPU time is spent: the due buckets first, then the sessions of the
   * current second's bucket that have already expired. Called only when a write would otherwise be
   * refused (memory budget, app limit).
   */
  reclaim(now: number, enough: () => boolean): void {
    const budgetEnd = performance.now() + RECLAIM_BUDGET_MS;
    const stop = (): boolean => enough() || performance.now() >= budgetEnd;
    const current = ExpiryIndex.bucketOf(now);
    const shards = this.shards.shards;
    for (const shard of shards) {
      if (stop()) break;
      shard.expiry.sweep(now, (slot, bucket) => this.visit(shard, slot, bucket, now), stop);
    }
    for (const shard of shards) {
      if (stop()) break;
      const table = shard.table;
      shard.expiry.forEachIn(current, (slot) => {
        if (table.isLive(slot) && table.expiryBucket[slot] === current && !enough()) this.ends.settle(shard, slot, now);
      });
    }
    this.timer.arm(this.nextExpiryDue());
  }

  /**
   * One active-expiry slice over all shards, round-robin from where the last one started, bounded
   * by the CPU budget (real time, not the injected clock: it bounds work, not session time).
   * @returns true if every due bucket was swept.
   */
  private sweep(now: number): boolean {
    const started = performance.now();
    const budgetEnd = started + this.options.expirySliceBudgetMs;
    const outOfBudget = (): boolean => performance.now() >= budgetEnd;
    const shards = this.shards.shards;
    const count = shards.length;
    let done = true;
    for (let i = 0; i < count; i++) {
      const shard = shards[(this.sweepStartShard + i) % count] as SessionShard;
      if (!shard.expiry.sweep(now, (slot, bucket) => this.visit(shard, slot, bucket, now), outOfBudget)) {
        done = false;
        break;
      }
    }
    this.sweepStartShard = (this.sweepStartShard + 1) % count;
    this.timer.sliceRan(now);
    const counters = this.counters;
    counters.expirySlices++;
    const sliceMs = performance.now() - started;
    counters.longestExpirySliceMs = Math.max(counters.longestExpirySliceMs, sliceMs);
    this.events.onExpirySlice?.(sliceMs);
    return done;
  }

  /**
   * One compaction slice of the payload and id slabs, within the slice's CPU budget (after the
   * sweep: while sessions expire en masse, their pages empty without moving anything).
   * @returns true if nothing is left to compact.
   */
  private compactSlice(): boolean {
    if (!this.shards.compactionPending) return true;
    const budgetEnd = performance.now() + this.options.expirySliceBudgetMs;
    const outOfBudget = (): boolean => performance.now() >= budgetEnd;
    return this.shards.payloads.compact(outOfBudget) && this.shards.keys.compact(outOfBudget);
  }

  /** One expiry-index entry came due: skip it if stale, delete the session if expired, else re-file. */
  private visit(shard: SessionShard, slot: number, bucket: number, now: number): void {
    const table = shard.table;
    if (!table.isLive(slot) || table.expiryBucket[slot] !== bucket) return;
    if (!this.ends.settle(shard, slot, now)) return;
    const expiresAt = table.expiresAt[slot] as number;
    // A locked session lives at least to its lease end.
    const deadline = table.lockId[slot] !== 0 ? Math.max(expiresAt, table.leaseEnd[slot] as number) : expiresAt;
    this.timer.arm(shard.fileExpiry(slot, deadline));
  }

  private nextExpiryDue(): number {
    let next = Infinity;
    for (const shard of this.shards.shards) next = Math.min(next, shard.expiry.nextDueAt());
    return Math.max(next, this.timer.nextSliceAt);
  }
}
