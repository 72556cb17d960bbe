import { performance } from "node:perf_hooks";
import { systemClock, type Clock, type TimerHandle } from "./clock";
import { ExpiryIndex } from "./expiry-index";
import { validateCount, validateData, validateKey, validateLease, validateTtl } from "./input-validation";
import type {
  ExpireInput,
  ExpireResult,
  GetInput,
  GetResult,
  LockedResult,
  LockInput,
  LockResult,
  ReleaseInput,
  RemoveInput,
  SetInput,
  SetResult,
  WaitCallbacks,
  WaitHandle,
} from "./operations";
import { KEY_LAYOUT, PAYLOAD_LAYOUT, PayloadSlabs } from "./payload-slabs";
import { SessionShard, keyHash, ownerShard, ownerSlot } from "./session-shard";
import { StoreError } from "./store-error";
import { DEFAULT_STORE_OPTIONS, KEY_LIMITS, type StoreOptions } from "./store-options";
import { Waiter } from "./waiter";

/**
 * Memory charged per session on top of its id and payload chunk: the typed-array columns, the key
 * index, the id's slab chunk rounding and the expiry-index entry, as measured at a million
 * sessions (about 176 B of RSS beyond the payload with 24-byte ids; see README, Limits).
 */
export const SESSION_OVERHEAD_BYTES = 160;

/**
 * Most CPU time a write spends reclaiming expired sessions before it is refused (the expiry cycle
 * reclaims the rest at its own pace; a mass expiry must not stall one request for seconds).
 */
const RECLAIM_BUDGET_MS = 20;

/** Node timers cannot wait longer than 2^31-1 ms; longer waits re-arm on wake-up. */
const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** Counters and gauges of a store, for metrics and tests. */
export interface StoreStats {
  /** Resident sessions (including expired ones not yet swept). */
  readonly sessions: number;
  /** Sessions whose lock is held. */
  readonly lockedSessions: number;
  /** Calls waiting in session queues. */
  readonly waiters: number;
  /** Bytes charged against the memory budget. */
  readonly bytesUsed: number;
  /** The memory budget. */
  readonly maxMemoryBytes: number;
  /**
   * Bytes of slab pages allocated for payloads and session ids: what the store really holds for
   * them (compaction keeps it within 1/8 plus a few pages per size class of what is charged).
   */
  readonly slabBytes: number;
  /**
   * Bytes of slab pages released so far (monotonic). A released page is garbage until the next
   * full GC: the server asks for one after large releases (see memory-return.ts).
   */
  readonly slabBytesReleased: number;
  /** Sessions removed by expiry so far. */
  readonly expired: number;
  /** Locks released by the server because their lease ended. */
  readonly leaseExpiries: number;
  /** Locks granted so far. */
  readonly lockGrants: number;
  /** Active-expiry slices run so far. */
  readonly expirySlices: number;
  /** Longest active-expiry slice so far, in ms. */
  readonly longestExpirySliceMs: number;
}

/** Why a session ended, as reported to {@link StoreHooks.onSessionEnd}. */
export type SessionEndReason = "expired" | "removed";

/** Hooks the store calls out through (it has no logger of its own). */
export interface StoreHooks {
  /** A caller's callback threw while the store answered it; the store itself stays consistent. */
  readonly onCallbackError?: (error: unknown) => void;
  /**
   * A session ended: it expired (swept, or found expired on access) or was removed. Called after
   * the store is consistent again, synchronously, on the hot path: keep it cheap and never let it
   * throw (a throw is routed to {@link onCallbackError}). `at` is the store clock's time.
   * The session id is a bearer credential: the receiver must not log it.
   */
  readonly onSessionEnd?: (app: string, sessionId: string, reason: SessionEndReason, at: number) => void;
  /** One active-expiry slice ran, taking `durationMs` of real time (for the slice-time metric). */
  readonly onExpirySlice?: (durationMs: number) => void;
}

const NOT_FOUND = Object.freeze({ outcome: "not-found" } as const);

/**
 * The session store: sharded, in memory, with ASP.NET reader/writer lock semantics, lock leases
 * with fencing ids, FIFO server-side waiting, optimistic versions, a memory budget and active
 * expiry. Transport-agnostic: it knows nothing of gRPC. Single-threaded (Node's event loop).
 *
 * Errors are thrown synchronously as {@link StoreError} and change nothing. Get and Lock answer
 * through callbacks (synchronously when the answer is known at once) and return a
 * {@link WaitHandle} only when the call waits.
 */
export class SessionStore {
  /** The resolved, frozen options. */
  readonly options: StoreOptions;
  private readonly clock: Clock;
  private readonly hooks: StoreHooks;
  private readonly shards: SessionShard[] = [];
  private readonly slabs: PayloadSlabs;
  /** The session ids' bytes, shared by the shards (one set of partly filled pages, not one per shard). */
  private readonly keySlabs: PayloadSlabs;
  /**
   * App names by index (the session table stores the index, not the string; events need the name),
   * with the number of resident sessions of each. An app is forgotten with its last session, and its
   * index reused, so that apps with no sessions cost nothing.
   */
  private readonly appNames: string[] = [];
  private readonly appSessions: number[] = [];
  private readonly freeAppIndexes: number[] = [];
  private readonly appIndexes = new Map<string, number>();
  /** The next lock id, global so that ids are never reused for any session. */
  private nextLockId: number;
  private closed = false;

  private wakeTimer: TimerHandle | undefined;
  private wakeAt = Infinity;
  private inWake = false;
  private lastSweepAt = -Infinity;
  private sweepStartShard = 0;

  private bytesUsed = 0;
  private lockedSessions = 0;
  private waiters = 0;
  private expired = 0;
  private leaseExpiries = 0;
  private lockGrants = 0;
  private expirySlices = 0;
  private longestExpirySliceMs = 0;

  /**
   * @param options - limits and defaults; omitted fields take {@link DEFAULT_STORE_OPTIONS}.
   * @param clock - the time source (inject a fake one in tests).
   * @param hooks - optional callbacks for reporting.
   */
  constructor(options: Partial<StoreOptions> = {}, clock: Clock = systemClock, hooks: StoreHooks = {}) {
    const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
    this.options = Object.freeze({ ...DEFAULT_STORE_OPTIONS, ...given });
    if (!Number.isInteger(this.options.shards) || this.options.shards < 1) {
      throw new RangeError("shards must be a positive integer");
    }
    this.clock = clock;
    this.hooks = hooks;
    const shardCount = this.options.shards;
    // Compaction moves chunks of any shard's sessions: tell the owning slot its new handle.
    this.slabs = new PayloadSlabs(this.options.maxItemBytes, PAYLOAD_LAYOUT, (owner, handle) => {
      (this.shards[ownerShard(owner, shardCount)] as SessionShard).table.payload[ownerSlot(owner, shardCount)] = handle;
    });
    this.keySlabs = new PayloadSlabs(KEY_LIMITS.maxSessionIdBytes, KEY_LAYOUT, (owner, handle) => {
      (this.shards[ownerShard(owner, shardCount)] as SessionShard).table.keyChunk[ownerSlot(owner, shardCount)] = handle;
    });
    for (let i = 0; i < shardCount; i++) this.shards.push(new SessionShard(i, shardCount, this.keySlabs));
    // Seeded from the clock so that fencing tokens keep growing across restarts of the server
    // (1024 ids per millisecond of downtime), while staying far below 2^53.
    const seed = Math.floor(clock.now()) * 1024;
    this.nextLockId = seed > 0 && seed < 2 ** 52 ? seed : 1;
  }

  /** Reads a session without locking it (ASP.NET GetItem). */
  get(input: GetInput, callbacks: WaitCallbacks<GetResult>): WaitHandle | undefined {
    this.assertOpen();
    validateKey(input.app, input.sessionId);
    validateCount("wait_ms", input.waitMs);
    const now = this.clock.now();
    const hash = keyHash(input.app, input.sessionId);
    const shard = this.shardAt(hash);
    const slot = this.find(shard, input.app, input.sessionId, hash, now);
    if (slot < 0) {
      callbacks.resolve(NOT_FOUND);
      return undefined;
    }
    const table = shard.table;
    if (table.lockId[slot] === 0) {
      this.touch(shard, slot, now);
      callbacks.resolve(this.readResult(shard, slot));
      return undefined;
    }
    const waitMs = Math.min(input.waitMs, this.options.maxWaitMs);
    if (waitMs > 0) {
      this.assertQueueRoom(shard, slot);
      this.touch(shard, slot, now);
      return this.enqueue(new Waiter(shard, slot, now + waitMs, { kind: "read", callbacks }, this.cancelWaiter));
    }
    this.touch(shard, slot, now);
    callbacks.resolve(this.lockedResult(shard, slot, now));
    return undefined;
  }

  /** Takes a session's exclusive lock (ASP.NET GetItemExclusive), creating it if asked. */
  lock(input: LockInput, callbacks: WaitCallbacks<LockResult>): WaitHandle | undefined {
    this.assertOpen();
    validateKey(input.app, input.sessionId);
    validateCount("wait_ms", input.waitMs);
    validateLease(input.leaseMs, this.options);
    validateTtl(input.ttlSeconds, this.options);
    const leaseMs = input.leaseMs === 0 ? this.options.defaultLockLeaseMs : input.leaseMs;
    const now = this.clock.now();
    const hash = keyHash(input.app, input.sessionId);
    const shard = this.shardAt(hash);
    let slot = this.find(shard, input.app, input.sessionId, hash, now);
    if (slot < 0) {
      if (!input.create) {
        callbacks.resolve(NOT_FOUND);
        return undefined;
      }
      const ttlSeconds = input.ttlSeconds === 0 ? this.options.defaultTtlSeconds : input.ttlSeconds;
      this.assertAppRoom(input.app, now);
      this.assertBudget(SESSION_OVERHEAD_BYTES + input.sessionId.length, now);
      slot = this.createSession(shard, input.app, input.sessionId, hash, ttlSeconds, now);
      const lockId = this.grantLock(shard, slot, leaseMs, now);
      callbacks.resolve({
        outcome: "ok",
        data: Buffer.alloc(0),
        version: 1,
        lockId,
        ttlSeconds,
        created: true,
        leaseMs,
      });
      return undefined;
    }
    const table = shard.table;
    if (table.lockId[slot] === 0) {
      this.touch(shard, slot, now);
      const lockId = this.grantLock(shard, slot, leaseMs, now);
      callbacks.resolve(this.lockOkResult(shard, slot, lockId, leaseMs));
      return undefined;
    }
    const waitMs = Math.min(input.waitMs, this.options.maxWaitMs);
    if (waitMs > 0) {
      this.assertQueueRoom(shard, slot);
      this.touch(shard, slot, now);
      return this.enqueue(
        new Waiter(shard, slot, now + waitMs, { kind: "write", callbacks, leaseMs }, this.cancelWaiter),
      );
    }
    this.touch(shard, slot, now);
    callbacks.resolve(this.lockedResult(shard, slot, now));
    return undefined;
  }

  /** Writes a session (ASP.NET SetAndReleaseItemExclusive when lockId is given). */
  set(input: SetInput): SetResult {
    this.assertOpen();
    validateKey(input.app, input.sessionId);
    validateData(input.data, this.options);
    validateTtl(input.ttlSeconds, this.options);
    validateCount("lock_id", input.lockId);
    validateCount("expected_version", input.expectedVersion);
    const now = this.clock.now();
    const hash = keyHash(input.app, input.sessionId);
    const shard = this.shardAt(hash);
    const slot = this.find(shard, input.app, input.sessionId, hash, now);
    const chunkBytes = this.slabs.chunkBytesFor(input.data.length);

    if (slot < 0) {
      if (input.lockId !== 0) {
        throw conflict("SESSION_GONE", `lock_id ${idText(input.lockId)} is stale: the session expired or was removed`);
      }
      if (input.expectedVersion !== 0) {
        throw conflict(
          "VERSION_MISMATCH",
          `expected_version ${idText(input.expectedVersion)} does not match: the session does not exist`,
        );
      }
      this.assertAppRoom(input.app, now);
      this.assertBudget(SESSION_OVERHEAD_BYTES + input.sessionId.length + chunkBytes, now);
      const ttlSeconds = input.ttlSeconds === 0 ? this.options.defaultTtlSeconds : input.ttlSeconds;
      const created = this.createSession(shard, input.app, input.sessionId, hash, ttlSeconds, now);
      this.writePayload(shard, created, input.data);
      return { version: 1, written: true };
    }

    const table = shard.table;
    if (input.onlyIfAbsent) {
      this.touch(shard, slot, now);
      return { version: table.version[slot] as number, written: false };
    }
    this.assertWriteAllowed(shard, slot, input.lockId, now);
    const version = table.version[slot] as number;
    if (input.expectedVersion !== 0 && input.expectedVersion !== version) {
      throw conflict(
        "VERSION_MISMATCH",
        `expected_version ${idText(input.expectedVersion)} does not match the current version ${version}`,
      );
    }
    this.assertBudget(chunkBytes - this.slabs.chunkBytesOf(table.payload[slot] as number), now);

    this.writePayload(shard, slot, input.data);
    table.version[slot] = version + 1;
    if (input.ttlSeconds !== 0) this.setTtl(shard, slot, input.ttlSeconds, now);
    this.touch(shard, slot, now);
    if (input.lockId !== 0 && !input.keepLock) this.releaseLock(shard, slot, now);
    return { version: version + 1, written: true };
  }

  /** Releases a lock given the holder's id (ASP.NET ReleaseItemExclusive). Never a conflict. */
  release(input: ReleaseInput): boolean {
    this.assertOpen();
    validateKey(input.app, input.sessionId);
    validateCount("lock_id", input.lockId);
    const now = this.clock.now();
    const hash = keyHash(input.app, input.sessionId);
    const shard = this.shardAt(hash);
    const slot = this.find(shard, input.app, input.sessionId, hash, now);
    if (slot < 0) return false;
    this.touch(shard, slot, now);
    const table = shard.table;
    if (input.lockId === 0 || table.lockId[slot] !== input.lockId) return false;
    this.releaseLock(shard, slot, now);
    return true;
  }

  /** Restarts a session's sliding window, optionally with a new ttl (ASP.NET ResetItemTimeout). */
  expire(input: ExpireInput): ExpireResult {
    this.assertOpen();
    validateKey(input.app, input.sessionId);
    validateTtl(input.ttlSeconds, this.options);
    const now = this.clock.now();
    const hash = keyHash(input.app, input.sessionId);
    const shard = this.shardAt(hash);
    const slot = this.find(shard, input.app, input.sessionId, hash, now);
    if (slot < 0) return { found: false, ttlSeconds: 0 };
    if (input.ttlSeconds !== 0) this.setTtl(shard, slot, input.ttlSeconds, now);
    this.touch(shard, slot, now);
    return { found: true, ttlSeconds: shard.table.ttlSeconds[slot] as number };
  }

  /** Deletes a session (ASP.NET RemoveItem); a locked one only with the holder's lock id. */
  remove(input: RemoveInput): boolean {
    this.assertOpen();
    validateKey(input.app, input.sessionId);
    validateCount("lock_id", input.lockId);
    const now = this.clock.now();
    const hash = keyHash(input.app, input.sessionId);
    const shard = this.shardAt(hash);
    const slot = this.find(shard, input.app, input.sessionId, hash, now);
    if (slot < 0) return false;
    const holder = shard.table.lockId[slot] as number;
    if (holder !== 0 && holder !== input.lockId) {
      throw conflict(
        "LOCKED_BY_OTHER",
        input.lockId === 0
          ? `the session is locked (holder lock_id ${holder}); remove needs the holder's lock_id`
          : `lock_id ${idText(input.lockId)} is not the holder's (holder lock_id ${holder})`,
      );
    }
    this.deleteSession(shard, slot, "removed", now);
    return true;
  }

  /** Current counters and gauges. */
  stats(): StoreStats {
    let sessions = 0;
    for (const shard of this.shards) sessions += shard.table.size;
    return {
      sessions,
      lockedSessions: this.lockedSessions,
      waiters: this.waiters,
      bytesUsed: this.bytesUsed,
      maxMemoryBytes: this.options.maxMemoryBytes,
      slabBytes: this.slabs.pageBytes + this.keySlabs.pageBytes,
      slabBytesReleased: this.slabs.releasedBytes + this.keySlabs.releasedBytes,
      expired: this.expired,
      leaseExpiries: this.leaseExpiries,
      lockGrants: this.lockGrants,
      expirySlices: this.expirySlices,
      longestExpirySliceMs: this.longestExpirySliceMs,
    };
  }

  /**
   * Runs due lease ends, wait timeouts and one expiry slice now, as the timer would. For tests and
   * tools; the store schedules this by itself.
   */
  runDueWork(): void {
    if (this.wakeTimer !== undefined) this.clock.clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    this.wakeAt = Infinity;
    this.wake();
  }

  /** Stops timers and answers every waiter with an "unavailable" error. Later calls fail the same way. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.wakeTimer !== undefined) this.clock.clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    this.wakeAt = Infinity;
    const error = shuttingDown();
    for (const shard of this.shards) {
      const queues = [...shard.queues.values()];
      shard.queues.clear();
      shard.waiterDeadlines.clear();
      for (const queue of queues) {
        for (const waiter of queue) {
          waiter.settled = true;
          this.waiters--;
          this.deliver(waiter.request.callbacks.reject, error);
        }
      }
    }
  }

  // ---- lookup and lifecycle -------------------------------------------------------------------

  private shardAt(hash: number): SessionShard {
    return this.shards[hash % this.shards.length] as SessionShard;
  }

  /** The live slot of (app, sessionId), applying a due lease end or expiry first; -1 if none. */
  private find(shard: SessionShard, app: string, sessionId: string, hash: number, now: number): number {
    const appIndex = this.appIndexes.get(app);
    if (appIndex === undefined) return -1;
    const slot = shard.table.find(appIndex, sessionId, hash);
    if (slot < 0) return -1;
    return this.settle(shard, slot, now) ? slot : -1;
  }

  /**
   * Brings a slot up to date at `now`, so that answers never depend on whether a timer or sweep has
   * run yet: a lease that has ended is released (serving waiters), and an expired session is
   * deleted. A locked session does not expire before its lease ends.
   * @returns false if the session is gone.
   */
  private settle(shard: SessionShard, slot: number, now: number): boolean {
    const table = shard.table;
    if (table.lockId[slot] !== 0) {
      return (table.leaseEnd[slot] as number) > now || this.endLease(shard, slot, now);
    }
    if ((table.expiresAt[slot] as number) > now) return true;
    this.expired++;
    this.deleteSession(shard, slot, "expired", now);
    return false;
  }

  private createSession(
    shard: SessionShard,
    app: string,
    sessionId: string,
    hash: number,
    ttlSeconds: number,
    now: number,
  ): number {
    const appIndex = this.appIndexFor(app);
    const table = shard.table;
    const slot = table.allocate(appIndex, sessionId, hash);
    this.appSessions[appIndex] = (this.appSessions[appIndex] as number) + 1;
    table.firstLockId[slot] = this.nextLockId;
    table.lastReleasedLockId[slot] = 0;
    table.version[slot] = 1;
    table.ttlSeconds[slot] = ttlSeconds;
    const expiresAt = now + ttlSeconds * 1000;
    table.expiresAt[slot] = expiresAt;
    this.file(shard, slot, expiresAt);
    this.bytesUsed += SESSION_OVERHEAD_BYTES + sessionId.length;
    return slot;
  }

  /** Deletes a live slot: waiters are answered NOT_FOUND, the lock and payload go with it. */
  private deleteSession(shard: SessionShard, slot: number, reason: SessionEndReason, now: number): void {
    const table = shard.table;
    if (table.lockId[slot] !== 0) this.unlock(shard, slot);
    const queue = shard.queues.get(slot);
    if (queue !== undefined) {
      shard.queues.delete(slot);
      for (const waiter of queue) this.unqueue(waiter);
    }
    const onSessionEnd = this.hooks.onSessionEnd;
    // The id is decoded from the slab only when someone listens, and before the slot is freed.
    const app = onSessionEnd === undefined ? "" : (this.appNames[table.appIndex[slot] as number] as string);
    const sessionId = onSessionEnd === undefined ? "" : table.sessionIdOf(slot);
    const payload = table.payload[slot] as number;
    this.bytesUsed -= SESSION_OVERHEAD_BYTES + (table.keyLength[slot] as number) + this.slabs.chunkBytesOf(payload);
    this.slabs.free(payload);
    this.forgetAppSession(table.appIndex[slot] as number);
    table.release(slot);
    this.scheduleCompaction(now);
    // Answer after the state is consistent, so a callback that calls back in sees the removal.
    if (queue !== undefined) {
      for (const waiter of queue) this.deliver(waiter.request.callbacks.resolve, NOT_FOUND);
    }
    if (onSessionEnd !== undefined) {
      try {
        onSessionEnd(app, sessionId, reason, now);
      } catch (error) {
        this.hooks.onCallbackError?.(error);
      }
    }
  }

  /** Fails (changing nothing) if a session of `app` would be one app more than `maxApps`. */
  private assertAppRoom(app: string, now: number): void {
    if (this.appIndexes.has(app) || this.appIndexes.size < this.options.maxApps) return;
    // Apps whose sessions have all expired (not swept yet) hold no place either.
    this.reclaimExpired(now, () => this.appIndexes.size < this.options.maxApps);
    if (this.appIndexes.size < this.options.maxApps) return;
    throw new StoreError(
      "resource-exhausted",
      "TOO_MANY_APPS",
      `${this.appIndexes.size} apps already have sessions; the limit (max-apps) is ${this.options.maxApps}`,
    );
  }

  /** The registry index of `app`, registering it (call {@link assertAppRoom} first). */
  private appIndexFor(app: string): number {
    let appIndex = this.appIndexes.get(app);
    if (appIndex === undefined) {
      appIndex = this.freeAppIndexes.pop() ?? this.appNames.length;
      this.appNames[appIndex] = app;
      this.appSessions[appIndex] = 0;
      this.appIndexes.set(app, appIndex);
    }
    return appIndex;
  }

  /** One session of the app at `appIndex` is gone; the last one takes the app with it. */
  private forgetAppSession(appIndex: number): void {
    const left = (this.appSessions[appIndex] as number) - 1;
    this.appSessions[appIndex] = left;
    if (left > 0) return;
    this.appIndexes.delete(this.appNames[appIndex] as string);
    this.appNames[appIndex] = "";
    this.freeAppIndexes.push(appIndex);
  }

  private writePayload(shard: SessionShard, slot: number, data: Uint8Array): void {
    const table = shard.table;
    const previous = table.payload[slot] as number;
    const before = this.slabs.chunkBytesOf(previous);
    const handle = this.slabs.write(data, previous, shard.ownerOf(slot));
    table.payload[slot] = handle;
    table.payloadLength[slot] = data.length;
    this.bytesUsed += this.slabs.chunkBytesOf(handle) - before;
    if (handle !== previous) this.scheduleCompaction(this.clock.now());
  }

  // ---- expiry ---------------------------------------------------------------------------------

  /** Restarts the sliding window (the expiry index catches up lazily, see ExpiryIndex). */
  private touch(shard: SessionShard, slot: number, now: number): void {
    const table = shard.table;
    table.expiresAt[slot] = now + (table.ttlSeconds[slot] as number) * 1000;
  }

  /** Sets a new ttl; a deadline that moves earlier is filed again so the sweep finds it in time. */
  private setTtl(shard: SessionShard, slot: number, ttlSeconds: number, now: number): void {
    const table = shard.table;
    table.ttlSeconds[slot] = ttlSeconds;
    const expiresAt = now + ttlSeconds * 1000;
    table.expiresAt[slot] = expiresAt;
    if (ExpiryIndex.bucketOf(expiresAt) < (table.expiryBucket[slot] as number)) this.file(shard, slot, expiresAt);
  }

  private file(shard: SessionShard, slot: number, deadline: number): void {
    const bucket = ExpiryIndex.bucketOf(deadline);
    shard.table.expiryBucket[slot] = bucket;
    shard.expiry.add(slot, bucket);
    this.armWake(shard.expiry.nextDueAt());
  }

  /** One expiry-index entry came due: skip it if stale, delete the session if expired, else re-file. */
  private visitExpiryEntry(shard: SessionShard, slot: number, bucket: number, now: number): void {
    const table = shard.table;
    if (!table.isLive(slot) || table.expiryBucket[slot] !== bucket) return;
    if (this.settle(shard, slot, now)) {
      const locked = table.lockId[slot] !== 0;
      const deadline = locked
        ? Math.max(table.expiresAt[slot] as number, table.leaseEnd[slot] as number)
        : (table.expiresAt[slot] as number);
      this.file(shard, slot, deadline);
    }
  }

  // ---- locks and waiters ----------------------------------------------------------------------

  private grantLock(shard: SessionShard, slot: number, leaseMs: number, now: number): number {
    const table = shard.table;
    const lockId = this.nextLockId++;
    table.lockId[slot] = lockId;
    table.lockedAt[slot] = now;
    table.leaseEnd[slot] = now + leaseMs;
    shard.leases.push(slot);
    this.lockedSessions++;
    this.lockGrants++;
    this.armWake(now + leaseMs);
    return lockId;
  }

  /**
   * The holder released its lock (Release, or a Set that writes and releases). A session whose
   * expiry came due while it was locked was re-filed at its lease end: file it again at its real
   * deadline, or it would stay resident (and charged) until the lease end.
   */
  private releaseLock(shard: SessionShard, slot: number, now: number): void {
    const table = shard.table;
    table.lastReleasedLockId[slot] = table.lockId[slot] as number;
    this.unlock(shard, slot);
    this.fileIfEarlier(shard, slot);
    this.serveQueue(shard, slot, now);
  }

  /** Files an unlocked session under its deadline if that comes before the bucket it is filed in. */
  private fileIfEarlier(shard: SessionShard, slot: number): void {
    const table = shard.table;
    if (table.lockId[slot] !== 0) return;
    const expiresAt = table.expiresAt[slot] as number;
    if (ExpiryIndex.bucketOf(expiresAt) < (table.expiryBucket[slot] as number)) this.file(shard, slot, expiresAt);
  }

  private unlock(shard: SessionShard, slot: number): void {
    const table = shard.table;
    table.lockId[slot] = 0;
    const position = table.leaseHeapPosition[slot] as number;
    if (position >= 0) shard.leases.removeAt(position);
    this.lockedSessions--;
  }

  /**
   * The server's forced release (ASP.NET's waiter-side release after executionTimeout). A session
   * whose deadline passed while it was locked expires now, and its waiters get NOT_FOUND; otherwise
   * the queue is served.
   * @returns false if the session expired.
   */
  private endLease(shard: SessionShard, slot: number, now: number): boolean {
    const table = shard.table;
    table.lastLeaseExpiredLockId[slot] = table.lockId[slot] as number;
    this.leaseExpiries++;
    this.unlock(shard, slot);
    if ((table.expiresAt[slot] as number) <= now) {
      this.expired++;
      this.deleteSession(shard, slot, "expired", now);
      return false;
    }
    this.fileIfEarlier(shard, slot);
    this.serveQueue(shard, slot, now);
    return true;
  }

  /**
   * After a release: the readers ahead of the first waiting writer are answered, the first writer
   * (whose caller is still there) gets the lock, and everyone behind it keeps waiting.
   */
  private serveQueue(shard: SessionShard, slot: number, now: number): void {
    const queue = shard.queues.get(slot);
    if (queue === undefined) return;
    const table = shard.table;
    while (queue.length > 0 && table.lockId[slot] === 0) {
      const waiter = queue.shift() as Waiter;
      this.unqueue(waiter);
      const request = waiter.request;
      if (request.kind === "read") {
        this.touch(shard, slot, now);
        this.deliver(request.callbacks.resolve, this.readResult(shard, slot));
        continue;
      }
      if (!this.canGrant(request.callbacks)) continue;
      this.touch(shard, slot, now);
      const lockId = this.grantLock(shard, slot, request.leaseMs, now);
      this.deliver(request.callbacks.resolve, this.lockOkResult(shard, slot, lockId, request.leaseMs));
    }
    if (queue.length === 0) shard.queues.delete(slot);
  }

  /**
   * Asks a waiting writer whether its caller can still take a lock; one that cannot is answered
   * through `dropped` (it has already left its queue).
   */
  private canGrant(callbacks: WaitCallbacks<LockResult>): boolean {
    if (callbacks.isActive === undefined || callbacks.isActive()) return true;
    const dropped = callbacks.dropped;
    if (dropped !== undefined) this.deliver(dropped, undefined);
    return false;
  }

  private assertQueueRoom(shard: SessionShard, slot: number): void {
    const queue = shard.queues.get(slot);
    if (queue !== undefined && queue.length >= this.options.maxWaiters) {
      throw new StoreError(
        "resource-exhausted",
        "TOO_MANY_WAITERS",
        `the session already has ${queue.length} waiting calls (max-waiters ${this.options.maxWaiters})`,
      );
    }
  }

  private enqueue(waiter: Waiter): Waiter {
    const shard = waiter.shard;
    let queue = shard.queues.get(waiter.slot);
    if (queue === undefined) {
      queue = [];
      shard.queues.set(waiter.slot, queue);
    }
    queue.push(waiter);
    shard.waiterDeadlines.push(waiter);
    this.waiters++;
    this.armWake(waiter.deadline);
    return waiter;
  }

  /** Marks a waiter settled and takes it off the deadline heap (not off its queue). */
  private unqueue(waiter: Waiter): void {
    waiter.settled = true;
    this.waiters--;
    if (waiter.heapPosition >= 0) waiter.shard.waiterDeadlines.removeAt(waiter.heapPosition);
  }

  /** WaitHandle.cancel: the caller is gone; leave the queue at once, answer nothing. */
  private readonly cancelWaiter = (waiter: Waiter): void => {
    if (waiter.settled) return;
    this.removeFromQueue(waiter);
    this.unqueue(waiter);
  };

  private removeFromQueue(waiter: Waiter): void {
    const queue = waiter.shard.queues.get(waiter.slot);
    if (queue === undefined) return;
    const at = queue.indexOf(waiter);
    if (at >= 0) queue.splice(at, 1);
    if (queue.length === 0) waiter.shard.queues.delete(waiter.slot);
  }

  /** A waiter's time ran out: it is answered as if it had not waited (OUTCOME_LOCKED). */
  private timeOutWaiter(waiter: Waiter, now: number): void {
    this.removeFromQueue(waiter);
    this.unqueue(waiter);
    const shard = waiter.shard;
    const slot = waiter.slot;
    this.touch(shard, slot, now);
    const request = waiter.request;
    if (shard.table.lockId[slot] !== 0) {
      this.deliver(request.callbacks.resolve, this.lockedResult(shard, slot, now));
    } else if (request.kind === "read") {
      this.deliver(request.callbacks.resolve, this.readResult(shard, slot));
    } else if (this.canGrant(request.callbacks)) {
      const lockId = this.grantLock(shard, slot, request.leaseMs, now);
      this.deliver(request.callbacks.resolve, this.lockOkResult(shard, slot, lockId, request.leaseMs));
    }
  }

  private assertWriteAllowed(shard: SessionShard, slot: number, lockId: number, now: number): void {
    const table = shard.table;
    const holder = table.lockId[slot] as number;
    if (lockId === 0) {
      if (holder !== 0) {
        throw conflict(
          "LOCKED_BY_OTHER",
          `the session is locked by another holder (lock_id ${holder}, held ${Math.floor(now - (table.lockedAt[slot] as number))} ms); write with its lock_id or wait`,
        );
      }
      return;
    }
    if (holder === lockId) return;
    if (lockId < (table.firstLockId[slot] as number)) {
      throw conflict("SESSION_GONE", `lock_id ${idText(lockId)} is stale: it is older than this session (removed or expired, and created again since)`);
    }
    if (this.leaseEnded(shard, slot, lockId)) {
      throw conflict("LEASE_EXPIRED", `lock_id ${idText(lockId)} is stale: its lease ended and the server released it`);
    }
    throw conflict(
      "STALE_LOCK_ID",
      holder === 0
        ? `lock_id ${idText(lockId)} is stale: the lock was released`
        : `lock_id ${idText(lockId)} is stale: the session is locked by another holder (lock_id ${holder})`,
    );
  }

  /**
   * Whether the lock `lockId` (not the holder's, issued for this incarnation) ended by its lease
   * rather than by a release. Locks of a session follow each other, so the last lease end and the
   * last release decide it for every id after the earlier of the two; an id older than both is
   * reported as released (the store keeps no longer history).
   */
  private leaseEnded(shard: SessionShard, slot: number, lockId: number): boolean {
    const table = shard.table;
    const lastLease = table.lastLeaseExpiredLockId[slot] as number;
    const lastRelease = table.lastReleasedLockId[slot] as number;
    if (lockId === lastLease) return true;
    if (lockId === lastRelease) return false;
    return lockId > lastRelease && lockId < lastLease;
  }

  private assertBudget(extraBytes: number, now: number): void {
    if (extraBytes <= 0 || this.bytesUsed + extraBytes <= this.options.maxMemoryBytes) return;
    // Memory held by sessions that have expired but not been swept yet is free memory: take it
    // back before refusing (as Redis expires keys before it evicts), as much as the write needs.
    this.reclaimExpired(now, () => this.bytesUsed + extraBytes <= this.options.maxMemoryBytes);
    if (this.bytesUsed + extraBytes > this.options.maxMemoryBytes) {
      throw new StoreError(
        "resource-exhausted",
        "MEMORY_BUDGET",
        `the memory budget (max-memory ${this.options.maxMemoryBytes} bytes) is full: ${this.bytesUsed} bytes used, this write needs ${extraBytes} more`,
      );
    }
  }

  private assertOpen(): void {
    if (this.closed) throw shuttingDown();
  }

  // ---- results --------------------------------------------------------------------------------

  private readResult(shard: SessionShard, slot: number): GetResult {
    const table = shard.table;
    return {
      outcome: "ok",
      data: this.slabs.read(table.payload[slot] as number, table.payloadLength[slot] as number),
      version: table.version[slot] as number,
      ttlSeconds: table.ttlSeconds[slot] as number,
    };
  }

  private lockOkResult(shard: SessionShard, slot: number, lockId: number, leaseMs: number): LockResult {
    const table = shard.table;
    return {
      outcome: "ok",
      data: this.slabs.read(table.payload[slot] as number, table.payloadLength[slot] as number),
      version: table.version[slot] as number,
      lockId,
      ttlSeconds: table.ttlSeconds[slot] as number,
      created: false,
      leaseMs,
    };
  }

  private lockedResult(shard: SessionShard, slot: number, now: number): LockedResult {
    const table = shard.table;
    return {
      outcome: "locked",
      lockId: table.lockId[slot] as number,
      lockAgeMs: Math.max(0, Math.floor(now - (table.lockedAt[slot] as number))),
      ttlSeconds: table.ttlSeconds[slot] as number,
    };
  }

  private deliver<T>(callback: (value: T) => void, value: T): void {
    try {
      callback(value);
    } catch (error) {
      this.hooks.onCallbackError?.(error);
    }
  }

  // ---- timers ---------------------------------------------------------------------------------

  /** Makes sure the single store timer fires no later than `at`. */
  private armWake(at: number): void {
    if (this.inWake || this.closed || at >= this.wakeAt) return;
    if (this.wakeTimer !== undefined) this.clock.clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    const delay = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, Math.ceil(at - this.clock.now())));
    this.wakeTimer = this.clock.setTimeout(this.onWakeTimer, delay);
  }

  private readonly onWakeTimer = (): void => {
    this.wakeTimer = undefined;
    this.wakeAt = Infinity;
    this.wake();
  };

  /** Lease ends, wait timeouts, then one time-boxed expiry slice; then re-arm for the next due item. */
  private wake(): void {
    if (this.closed) return;
    this.inWake = true;
    let next = Infinity;
    try {
      const now = this.clock.now();
      for (const shard of this.shards) {
        while (shard.leases.peekKey() <= now) this.endLease(shard, shard.leases.peek() as number, now);
        while (shard.waiterDeadlines.peekKey() <= now) {
          this.timeOutWaiter(shard.waiterDeadlines.peek() as Waiter, now);
        }
      }
      let sweepDone = true;
      let compactionDone = !this.compactionPending();
      if (now >= this.lastSweepAt + this.options.expiryIntervalMs) {
        sweepDone = this.sweep(now);
        compactionDone = this.compactSlice();
      }
      for (const shard of this.shards) {
        next = Math.min(next, shard.leases.peekKey(), shard.waiterDeadlines.peekKey());
        const expiryDue = shard.expiry.nextDueAt();
        if (expiryDue !== Infinity) {
          next = Math.min(next, Math.max(expiryDue, this.lastSweepAt + this.options.expiryIntervalMs));
        }
      }
      if (!sweepDone || !compactionDone) next = Math.min(next, now + this.options.expiryIntervalMs);
    } finally {
      this.inWake = false;
    }
    if (next !== Infinity) this.armWake(next);
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
    let done = true;
    const count = this.shards.length;
    for (let i = 0; i < count; i++) {
      const shard = this.shards[(this.sweepStartShard + i) % count] as SessionShard;
      shard.expiry.sweep(now, (slot, bucket) => this.visitExpiryEntry(shard, slot, bucket, now), outOfBudget);
      if (shard.expiry.nextDueAt() <= now) {
        done = false;
        break;
      }
    }
    this.sweepStartShard = (this.sweepStartShard + 1) % count;
    this.lastSweepAt = now;
    this.expirySlices++;
    const sliceMs = performance.now() - started;
    this.longestExpirySliceMs = Math.max(this.longestExpirySliceMs, sliceMs);
    this.hooks.onExpirySlice?.(sliceMs);
    return done;
  }

  private compactionPending(): boolean {
    return this.slabs.compactionPending || this.keySlabs.compactionPending;
  }

  /**
   * One compaction slice of the payload and id slabs, within the expiry slice's CPU budget (after
   * the sweep: while sessions expire en masse, their pages empty without moving anything).
   * @returns true if nothing is left to compact.
   */
  private compactSlice(): boolean {
    if (!this.compactionPending()) return true;
    const budgetEnd = performance.now() + this.options.expirySliceBudgetMs;
    const outOfBudget = (): boolean => performance.now() >= budgetEnd;
    return this.slabs.compact(outOfBudget) && this.keySlabs.compact(outOfBudget);
  }

  /** Makes sure a compaction slice comes, after frees that left a size class too sparse. */
  private scheduleCompaction(now: number): void {
    if (this.compactionPending()) this.armWake(Math.max(now, this.lastSweepAt + this.options.expiryIntervalMs));
  }

  /**
   * Deletes sessions whose deadline has passed, beyond the expiry cycle's pace, until `enough` says
   * so or {@link RECLAIM_BUDGET_MS} of CPU time is spent: the due buckets first, then the sessions of
   * the current second's bucket that have already expired. Called only when a write would
   * otherwise be refused (memory budget, app limit).
   */
  private reclaimExpired(now: number, enough: () => boolean): void {
    const budgetEnd = performance.now() + RECLAIM_BUDGET_MS;
    const stop = (): boolean => enough() || performance.now() >= budgetEnd;
    const current = ExpiryIndex.bucketOf(now);
    for (const shard of this.shards) {
      if (stop()) break;
      shard.expiry.sweep(now, (slot, bucket) => this.visitExpiryEntry(shard, slot, bucket, now), stop);
    }
    for (const shard of this.shards) {
      if (stop()) break;
      const table = shard.table;
      shard.expiry.forEachIn(current, (slot) => {
        if (table.isLive(slot) && table.expiryBucket[slot] === current && !enough()) this.settle(shard, slot, now);
      });
    }
    this.armWake(this.nextExpiryDue());
  }

  private nextExpiryDue(): number {
    let next = Infinity;
    for (const shard of this.shards) next = Math.min(next, shard.expiry.nextDueAt());
    return Math.max(next, this.lastSweepAt + this.options.expiryIntervalMs);
  }
}

function conflict(reason: "LOCKED_BY_OTHER" | "STALE_LOCK_ID" | "LEASE_EXPIRED" | "SESSION_GONE" | "VERSION_MISMATCH", message: string): StoreError {
  return new StoreError("conflict", reason, message);
}

/** An id for a message: values the wire allows but no id can reach (above 2^53) read as such. */
function idText(id: number): string {
  return id === Infinity ? "(above 2^53, never issued)" : String(id);
}

function shuttingDown(): StoreError {
  return new StoreError("unavailable", "SHUTTING_DOWN", "the server is shutting down");
}
