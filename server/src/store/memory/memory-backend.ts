import { systemClock, type Clock } from "../clock";
import {
  NOT_RELEASED,
  NOT_REMOVED,
  RELEASED,
  REMOVED,
  type ExpireResult,
  type GetResult,
  type LockResult,
  type ReleaseResult,
  type RemoveResult,
  type SetResult,
} from "../operations";
import type {
  BackendCounts,
  BackendEvents,
  BackendExpireInput,
  BackendGetInput,
  BackendLockInput,
  BackendReleaseInput,
  BackendRemoveInput,
  BackendSetInput,
  Cancellation,
  Completion,
  SessionBackend,
} from "../session-backend";
import { DEFAULT_SESSION_LIMITS, type SessionLimits } from "../session-limits";
import { StoreError } from "../store-error";
import { AppRegistry } from "./app-registry";
import { ExpiryCycle } from "./expiry-cycle";
import { LockIds } from "./lock-ids";
import { MemoryBudget, sessionBytes } from "./memory-budget";
import { DEFAULT_MEMORY_OPTIONS, type MemoryOptions } from "./memory-options";
import { MemoryCounters, memoryStats, type MemoryStats } from "./memory-stats";
import { MemoryJournalTarget } from "./journal-target";
import { SessionChanges } from "./session-changes";
import type { DurableJournal } from "./session-journal";
import { SessionEnds } from "./session-ends";
import { NOT_FOUND, SessionResults } from "./session-results";
import { keyHash, type SessionShard } from "./session-shard";
import { ShardSet } from "./shard-set";
import { StoreTimer } from "./store-timer";
import { WaitQueues } from "./wait-queues";
import type { Waiter, WaitRequest } from "./waiter";
import { WriteAdmission } from "./write-admission";
import { missingSessionConflict, removeConflict, versionConflict, writeConflict } from "./write-conflicts";

/** The payload of a session Lock creates. */
const EMPTY = new Uint8Array(0);

/** Expire's answer for a missing session (shared, frozen). */
const EXPIRE_NOT_FOUND: ExpireResult = Object.freeze({ found: false, ttlSeconds: 0 });

function shuttingDown(): StoreError {
  return new StoreError("unavailable", "SHUTTING_DOWN", "the server is shutting down");
}

/**
 * The memory backend: sessions sharded in memory, with ASP.NET reader/writer lock semantics, lock
 * leases with fencing ids, FIFO server-side waiting, optimistic versions, a memory budget and active
 * expiry. Single-threaded (Node's event loop).
 *
 * This class runs the six operations on inputs the SessionStore has validated and defaulted; the
 * parts it orchestrates each hold one concern (state changes: session-changes.ts; queues:
 * wait-queues.ts; ends of locks and sessions: session-ends.ts; the timed work: expiry-cycle.ts).
 * Inside, a refusal is a thrown {@link StoreError} (it changes nothing); each operation's boundary
 * turns whatever is thrown into `reject`, and resolves outside its `try`, so that a completion that
 * throws is never answered twice. Answers come at once unless the call waits in a session's queue:
 * then its {@link Waiter} is the Cancellation (the hot paths return no union to test: checking one
 * costs Get some 6 %).
 */
export class MemoryBackend implements SessionBackend {
  readonly name = "memory";
  /** The resolved, frozen options. */
  readonly options: MemoryOptions;
  private readonly clock: Clock;
  private readonly shards: ShardSet;
  private readonly budget: MemoryBudget;
  private readonly apps: AppRegistry;
  private readonly admission: WriteAdmission;
  private readonly counters = new MemoryCounters();
  private readonly timer: StoreTimer;
  private readonly changes: SessionChanges;
  private readonly results: SessionResults;
  private readonly waits: WaitQueues;
  private readonly ends: SessionEnds;
  private readonly cycle: ExpiryCycle;
  private readonly journal: DurableJournal | undefined;
  private readonly journalTarget: MemoryJournalTarget | undefined;
  private readonly events: BackendEvents;
  private closed = false;

  /**
   * @param options - the backend's options; omitted fields take {@link DEFAULT_MEMORY_OPTIONS}.
   * @param limits - the contract limits it enforces itself (waiters per session) or is sized by
   *   (the largest item); omitted ones take DEFAULT_SESSION_LIMITS.
   * @param clock - the time source (inject a fake one in tests).
   * @param events - where it reports session ends, expiry slices and throwing completions.
   * @param journal - where changes are written before they are made (`--data-dir`); {@link open}
   *   replays it. None: memory only.
   */
  constructor(
    options: Partial<MemoryOptions> = {},
    limits: Partial<Pick<SessionLimits, "maxWaiters" | "maxItemBytes">> = {},
    clock: Clock = systemClock,
    events: BackendEvents = {},
    journal?: DurableJournal,
  ) {
    const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
    const resolved: MemoryOptions = Object.freeze({ ...DEFAULT_MEMORY_OPTIONS, ...given });
    if (!Number.isInteger(resolved.shards) || resolved.shards < 1) throw new RangeError("shards must be a positive integer");
    this.options = resolved;
    this.clock = clock;
    this.shards = new ShardSet(resolved.shards, limits.maxItemBytes ?? DEFAULT_SESSION_LIMITS.maxItemBytes);
    this.budget = new MemoryBudget(resolved.maxMemoryBytes);
    this.apps = new AppRegistry(resolved.maxApps);
    this.timer = new StoreTimer(clock, resolved.expiryIntervalMs, (now) => this.cycle.runDue(now));
    this.events = events;
    const lockIds = new LockIds(clock);
    this.journal = journal;
    this.changes = new SessionChanges(this.shards, this.budget, this.apps, lockIds, this.counters, this.timer, journal);
    this.results = new SessionResults(this.shards.payloads);
    const maxWaiters = limits.maxWaiters ?? DEFAULT_SESSION_LIMITS.maxWaiters;
    this.waits = new WaitQueues(this.changes, this.results, this.counters, this.timer, maxWaiters, events, journal);
    this.ends = new SessionEnds(this.changes, this.waits, this.apps, this.counters, this.timer, events);
    this.cycle = new ExpiryCycle(this.shards, this.ends, this.waits, this.counters, this.timer, resolved, events);
    this.admission = new WriteAdmission(this.apps, this.budget, this.cycle);
    this.journalTarget =
      journal === undefined ? undefined : new MemoryJournalTarget(this.shards, this.apps, this.changes, this.ends, lockIds, this.budget, clock);
  }

  /** Replays the journal (`--data-dir`), if there is one, before the backend serves. */
  async open(): Promise<void> {
    if (this.journal !== undefined && this.journalTarget !== undefined) await this.journal.open(this.journalTarget);
  }

  get(input: BackendGetInput, completion: Completion<GetResult>): Cancellation | undefined {
    if (this.closed) return refuse(completion);
    let result: GetResult;
    try {
      const now = this.clock.now();
      const hash = keyHash(input.app, input.sessionId);
      const shard = this.shards.of(hash);
      const slot = this.find(shard, input.app, input.sessionId, hash, now);
      if (slot < 0) {
        result = NOT_FOUND;
      } else {
        const table = shard.table;
        const locked = table.lockId[slot] !== 0;
        if (locked && input.waitMs > 0) return this.queue(shard, slot, now, input.waitMs, { kind: "read", completion });
        this.changes.touch(shard, slot, now);
        result = locked ? this.results.locked(table, slot, now) : this.results.read(table, slot);
      }
    } catch (error) {
      return fail(completion, error);
    }
    completion.resolve(result);
    return undefined;
  }

  lock(input: BackendLockInput, completion: Completion<LockResult>): Cancellation | undefined {
    if (this.closed) return refuse(completion);
    let result: LockResult;
    const written = this.journal?.written ?? 0;
    try {
      const now = this.clock.now();
      const hash = keyHash(input.app, input.sessionId);
      const shard = this.shards.of(hash);
      const slot = this.find(shard, input.app, input.sessionId, hash, now);
      if (slot < 0) {
        result = input.create ? this.createLocked(shard, input, hash, now) : NOT_FOUND;
      } else {
        const table = shard.table;
        const locked = table.lockId[slot] !== 0;
        if (locked && input.waitMs > 0) return this.queue(shard, slot, now, input.waitMs, { kind: "write", completion, leaseMs: input.leaseMs });
        if (locked) {
          this.changes.touch(shard, slot, now);
          result = this.results.locked(table, slot, now);
        } else {
          result = this.results.lockOk(table, slot, this.changes.grantLock(shard, slot, input.leaseMs, now), input.leaseMs);
        }
      }
    } catch (error) {
      return fail(completion, error);
    }
    return this.answer(completion, result, written);
  }

  set(input: BackendSetInput, completion: Completion<SetResult>): undefined {
    return this.answerNow(input, completion, this.write);
  }

  release(input: BackendReleaseInput, completion: Completion<ReleaseResult>): undefined {
    return this.answerNow(input, completion, this.unlock);
  }

  expire(input: BackendExpireInput, completion: Completion<ExpireResult>): undefined {
    return this.answerNow(input, completion, this.prolong);
  }

  remove(input: BackendRemoveInput, completion: Completion<RemoveResult>): undefined {
    return this.answerNow(input, completion, this.delete);
  }

  /**
   * The boundary of an operation that never waits: `run` throws its refusal, which goes to
   * `reject`; the answer goes to `resolve` outside the try, so a completion that throws is never
   * answered twice.
   */
  private answerNow<I, R>(input: I, completion: Completion<R>, run: (this: MemoryBackend, input: I) => R): undefined {
    if (this.closed) return refuse(completion);
    let result: R;
    const written = this.journal?.written ?? 0;
    try {
      result = run.call(this, input);
    } catch (error) {
      return fail(completion, error);
    }
    return this.answer(completion, result, written);
  }

  /**
   * Answers a change: at once, or under fsync `always` once what it journaled (if anything: the
   * journal's `written` moved past `written`) is synced, with the sync's failure if it failed.
   */
  private answer<R>(completion: Completion<R>, result: R, written: number): undefined {
    const journal = this.journal;
    if (journal === undefined || !journal.syncsBeforeAnswer || journal.written === written) {
      completion.resolve(result);
      return undefined;
    }
    journal.whenDurable((error) => {
      try {
        if (error === undefined) completion.resolve(result);
        else completion.reject(error);
      } catch (thrown) {
        this.events.onCallbackError?.(thrown);
      }
    });
    return undefined;
  }

  counts(): Promise<BackendCounts> {
    return Promise.resolve({ sessions: this.shards.sessions, lockedSessions: this.counters.lockedSessions, waiters: this.counters.waiters });
  }

  /** Current counters and gauges (memory-backend diagnostics beyond {@link counts}). */
  stats(): MemoryStats {
    const stats = memoryStats(this.counters, this.shards, this.budget);
    return this.journal === undefined ? stats : { ...stats, journal: this.journal.stats() };
  }

  /**
   * Runs due lease ends, wait timeouts and one expiry slice now, as the timer would. For tests and
   * tools; the backend schedules this by itself.
   */
  runDueWork(): void {
    this.timer.runNow();
  }

  /** Stops the backend; with a journal, syncs the log and lets the data directory go. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.timer.stop();
    this.waits.close(this.shards.shards, shuttingDown());
    return this.journal?.close() ?? Promise.resolve();
  }

  // ---- the parts of the operations (refusals thrown, answered at the boundary) -----------------

  /** A Get or Lock on a locked session waits in its queue (TOO_MANY_WAITERS if it is full). */
  private queue(shard: SessionShard, slot: number, now: number, waitMs: number, request: WaitRequest): Waiter {
    const full = this.waits.queueFull(shard, slot);
    if (full !== undefined) throw full;
    this.changes.touch(shard, slot, now);
    return this.waits.enqueue(shard, slot, now + waitMs, request);
  }

  /** A Lock with create on a missing session: created (empty, version 1) and locked at once. */
  private createLocked(shard: SessionShard, input: BackendLockInput, hash: number, now: number): LockResult {
    const refused = this.admission.newSession(input.app, sessionBytes(input.sessionId.length), now);
    if (refused !== undefined) throw refused;
    const slot = this.changes.create(shard, input.app, input.sessionId, hash, input.ttlSeconds, EMPTY, now, input.leaseMs);
    return this.results.created(shard.table.lockId[slot] as number, input.ttlSeconds, input.leaseMs);
  }

  private write(input: BackendSetInput): SetResult {
    const now = this.clock.now();
    const hash = keyHash(input.app, input.sessionId);
    const shard = this.shards.of(hash);
    const slot = this.find(shard, input.app, input.sessionId, hash, now);
    const payloads = this.shards.payloads;
    const chunkBytes = payloads.chunkBytesFor(input.data.length);
    if (slot < 0) {
      const refused =
        missingSessionConflict(input.lockId, input.expectedVersion) ??
        this.admission.newSession(input.app, sessionBytes(input.sessionId.length) + chunkBytes, now);
      if (refused !== undefined) throw refused;
      this.changes.create(shard, input.app, input.sessionId, hash, input.createTtlSeconds, input.data, now);
      return { version: 1, written: true };
    }
    const table = shard.table;
    if (input.onlyIfAbsent) {
      this.changes.touch(shard, slot, now);
      return { version: table.version[slot] as number, written: false };
    }
    const refused =
      writeConflict(table, slot, input.lockId, now) ??
      versionConflict(input.expectedVersion, table.version[slot] as number) ??
      this.admission.moreBytes(chunkBytes - payloads.chunkBytesOf(table.payload[slot] as number), now);
    if (refused !== undefined) throw refused;
    const release = input.lockId !== 0 && !input.keepLock;
    const version = this.changes.write(shard, slot, input.data, input.ttlSeconds, release, now);
    if (release) this.ends.afterRelease(shard, slot, now);
    return { version, written: true };
  }

  private unlock(input: BackendReleaseInput): ReleaseResult {
    const now = this.clock.now();
    const hash = keyHash(input.app, input.sessionId);
    const shard = this.shards.of(hash);
    const slot = this.find(shard, input.app, input.sessionId, hash, now);
    if (slot < 0) return NOT_RELEASED;
    // Every call that finds the session restarts its window, a release that changes nothing too.
    if (input.lockId === 0 || shard.table.lockId[slot] !== input.lockId) {
      this.changes.touch(shard, slot, now);
      return NOT_RELEASED;
    }
    this.ends.releaseLock(shard, slot, now);
    return RELEASED;
  }

  private prolong(input: BackendExpireInput): ExpireResult {
    const now = this.clock.now();
    const hash = keyHash(input.app, input.sessionId);
    const shard = this.shards.of(hash);
    const slot = this.find(shard, input.app, input.sessionId, hash, now);
    if (slot < 0) return EXPIRE_NOT_FOUND;
    this.changes.prolong(shard, slot, input.ttlSeconds, now);
    return { found: true, ttlSeconds: shard.table.ttlSeconds[slot] as number };
  }

  private delete(input: BackendRemoveInput): RemoveResult {
    const now = this.clock.now();
    const hash = keyHash(input.app, input.sessionId);
    const shard = this.shards.of(hash);
    const slot = this.find(shard, input.app, input.sessionId, hash, now);
    if (slot < 0) return NOT_REMOVED;
    const refused = removeConflict(shard.table, slot, input.lockId);
    if (refused !== undefined) throw refused;
    this.ends.endSession(shard, slot, "removed", now);
    return REMOVED;
  }

  // ---- lookup ---------------------------------------------------------------------------------

  /** The live slot of (app, sessionId), applying a due lease end or expiry first; -1 if none. */
  private find(shard: SessionShard, app: string, sessionId: string, hash: number, now: number): number {
    const appIndex = this.apps.indexOf(app);
    if (appIndex < 0) return -1;
    const slot = shard.table.find(appIndex, sessionId, hash);
    if (slot < 0) return -1;
    return this.ends.settle(shard, slot, now) ? slot : -1;
  }
}

/** Answers a call made after close. */
function refuse(completion: Completion<unknown>): undefined {
  completion.reject(shuttingDown());
  return undefined;
}

/** Answers a call whose operation threw: a refusal (a StoreError), or a failure (answered INTERNAL). */
function fail(completion: Completion<unknown>, error: unknown): undefined {
  completion.reject(error);
  return undefined;
}
