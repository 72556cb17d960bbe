import type { LockResult } from "../operations";
import type { BackendEvents, Completion } from "../session-backend";
import type { StoreError } from "../store-error";
import { tooManyWaiters } from "../waiter-limit";
import type { MemoryCounters } from "./memory-stats";
import type { SessionChanges } from "./session-changes";
import type { SessionJournal } from "./session-journal";
import { NOT_FOUND, type SessionResults } from "./session-results";
import type { SessionShard } from "./session-shard";
import type { StoreTimer } from "./store-timer";
import { Waiter, type WaiterState, type WaitRequest } from "./waiter";

/**
 * The FIFO queues of calls waiting for a writer's release (ASP.NET's polling, done server-side):
 * queueing with the waiter limit, serving a queue after a release, ending waits at their deadline,
 * withdrawing cancelled waiters and refusing them all at close. Answers to waiters go out through
 * their completions, guarded: a throwing completion is reported, and the queue stays consistent.
 */
export class WaitQueues {
  /**
   * @param changes - for the touches and grants that serving a queue makes.
   * @param results - builds the answers.
   * @param counters - the waiter gauge.
   * @param timer - armed for wait deadlines.
   * @param maxWaiters - waiters per session (`--max-waiters`).
   * @param events - where a throwing completion is reported.
   * @param journal - under fsync `always`, a granted lock is answered once its record is synced.
   */
  constructor(
    private readonly changes: SessionChanges,
    private readonly results: SessionResults,
    private readonly counters: MemoryCounters,
    private readonly timer: StoreTimer,
    private readonly maxWaiters: number,
    private readonly events: BackendEvents,
    private readonly journal: SessionJournal | undefined,
  ) {}

  /** The refusal TOO_MANY_WAITERS if the session's queue is full. */
  queueFull(shard: SessionShard, slot: number): StoreError | undefined {
    const queue = shard.queues.get(slot);
    if (queue === undefined || queue.length < this.maxWaiters) return undefined;
    return tooManyWaiters(queue.length, this.maxWaiters);
  }

  /**
   * Queues a call at the end of the session's queue until `deadline`, and tells its completion it
   * waits; the waiter is its Cancellation.
   */
  enqueue(shard: SessionShard, slot: number, deadline: number, request: WaitRequest): Waiter {
    const waiter = new Waiter(shard, slot, deadline, request, this.withdraw);
    let queue = shard.queues.get(slot);
    if (queue === undefined) {
      queue = [];
      shard.queues.set(slot, queue);
    }
    queue.push(waiter);
    shard.waiterDeadlines.push(waiter);
    this.counters.waiters++;
    this.timer.arm(deadline);
    const completion = request.completion;
    try {
      completion.waiting?.();
    } catch (error) {
      // Queued already: a throw here must not turn into an answer.
      this.events.onCallbackError?.(error);
    }
    return waiter;
  }

  /**
   * After a release: the readers ahead of the first waiting writer are answered, the first writer
   * (whose caller is still there) gets the lock, and everyone behind it keeps waiting.
   */
  serve(shard: SessionShard, slot: number, now: number): void {
    const queue = shard.queues.get(slot);
    if (queue === undefined) return;
    const table = shard.table;
    while (queue.length > 0 && table.lockId[slot] === 0) {
      const waiter = queue.shift() as Waiter;
      this.settleWaiter(waiter, "answered");
      const request = waiter.request;
      if (request.kind === "read") {
        this.changes.touch(shard, slot, now);
        this.resolve(request.completion, this.results.read(table, slot));
        continue;
      }
      if (this.canGrant(request.completion)) this.grant(shard, slot, request.completion, request.leaseMs, now);
    }
    if (queue.length === 0) shard.queues.delete(slot);
  }

  /** Ends every wait of the shard whose deadline has come. */
  timeOutDue(shard: SessionShard, now: number): void {
    const deadlines = shard.waiterDeadlines;
    while (deadlines.peekKey() <= now) this.timeOut(deadlines.peek() as Waiter, now);
  }

  /**
   * Takes a session's whole queue out (the session is about to be deleted): the waiters have left
   * it, and are answered NOT_FOUND by {@link answerGone} once the deletion is done.
   */
  detach(shard: SessionShard, slot: number): readonly Waiter[] | undefined {
    const queue = shard.queues.get(slot);
    if (queue === undefined) return undefined;
    shard.queues.delete(slot);
    for (const waiter of queue) this.settleWaiter(waiter, "answered");
    return queue;
  }

  /** Answers the waiters of a deleted session (from {@link detach}) NOT_FOUND. */
  answerGone(queue: readonly Waiter[]): void {
    for (const waiter of queue) this.resolve(waiter.request.completion, NOT_FOUND);
  }

  /** Refuses every waiter of `shards` with `error` (the backend closes). */
  close(shards: readonly SessionShard[], error: StoreError): void {
    for (const shard of shards) {
      const queues = [...shard.queues.values()];
      shard.queues.clear();
      shard.waiterDeadlines.clear();
      for (const queue of queues) {
        for (const waiter of queue) {
          this.settleWaiter(waiter, "answered");
          this.reject(waiter.request.completion, error);
        }
      }
    }
  }

  /** A waiter's time ran out: it is answered as if it had not waited (OUTCOME_LOCKED). */
  private timeOut(waiter: Waiter, now: number): void {
    this.removeFromQueue(waiter);
    this.settleWaiter(waiter, "answered");
    const shard = waiter.shard;
    const slot = waiter.slot;
    const table = shard.table;
    this.changes.touch(shard, slot, now);
    const request = waiter.request;
    if (table.lockId[slot] !== 0) {
      this.resolve(request.completion, this.results.locked(table, slot, now));
    } else if (request.kind === "read") {
      this.resolve(request.completion, this.results.read(table, slot));
    } else if (this.canGrant(request.completion)) {
      this.grant(shard, slot, request.completion, request.leaseMs, now);
    }
  }

  /**
   * Grants the lock to a waiting writer. A grant the journal cannot write is refused to that waiter
   * (PERSISTENCE_FAILED) and the session stays unlocked for the next one; under fsync `always` the
   * answer waits for the grant's sync.
   */
  private grant(shard: SessionShard, slot: number, completion: Completion<LockResult>, leaseMs: number, now: number): void {
    let lockId: number;
    try {
      lockId = this.changes.grantLock(shard, slot, leaseMs, now);
    } catch (error) {
      this.reject(completion, error);
      return;
    }
    const result = this.results.lockOk(shard.table, slot, lockId, leaseMs);
    const journal = this.journal;
    if (journal === undefined || !journal.syncsBeforeAnswer) {
      this.resolve(completion, result);
      return;
    }
    journal.whenDurable((error) => (error === undefined ? this.resolve(completion, result) : this.reject(completion, error)));
  }

  /** Waiter.cancel: the caller is gone; leave the queue at once, answer nothing. */
  private readonly withdraw = (waiter: Waiter): void => {
    this.removeFromQueue(waiter);
    this.settleWaiter(waiter, "withdrawn");
  };

  /** The waiter has left its queue: it leaves the deadline heap and the gauge too. */
  private settleWaiter(waiter: Waiter, state: WaiterState): void {
    waiter.state = state;
    this.counters.waiters--;
    if (waiter.heapPosition >= 0) waiter.shard.waiterDeadlines.removeAt(waiter.heapPosition);
  }

  private removeFromQueue(waiter: Waiter): void {
    const queues = waiter.shard.queues;
    const queue = queues.get(waiter.slot);
    if (queue === undefined) return;
    const at = queue.indexOf(waiter);
    if (at >= 0) queue.splice(at, 1);
    if (queue.length === 0) queues.delete(waiter.slot);
  }

  /**
   * Asks a waiting writer whether its caller can still take a lock; one that cannot (or whose
   * question throws) is answered through `dropped`: it has already left its queue.
   */
  private canGrant(completion: Completion<LockResult>): boolean {
    if (completion.isActive === undefined) return true;
    let active: boolean;
    try {
      active = completion.isActive();
    } catch (error) {
      this.events.onCallbackError?.(error);
      active = false;
    }
    if (active) return true;
    try {
      completion.dropped?.();
    } catch (error) {
      this.events.onCallbackError?.(error);
    }
    return false;
  }

  private resolve<R>(completion: Completion<R>, result: R): void {
    try {
      completion.resolve(result);
    } catch (error) {
      this.events.onCallbackError?.(error);
    }
  }

  private reject(completion: Completion<unknown>, error: unknown): void {
    try {
      completion.reject(error);
    } catch (thrown) {
      this.events.onCallbackError?.(thrown);
    }
  }
}
