/**
 * The seam between the backend-neutral {@link SessionStore} and whatever holds the sessions: the
 * embedded memory backend (store/memory/), later Redis and a durable log. A backend implements the
 * six operations of the contract on inputs the store has already validated, defaulted and fitted
 * into the caller's deadline; it never sees a transport.
 *
 * One completion style for all six operations: the backend answers through the {@link Completion}
 * it is given, at once (before it returns) or later (a lock wait, a network round trip), and returns
 * a {@link Cancellation} when the answer may come later. Nothing is returned or thrown as an answer.
 */
import type {
  ExpireResult,
  GetResult,
  LockResult,
  ReleaseResult,
  RemoveResult,
  SessionKey,
  SetResult,
} from "./operations";
import type { JournalStats } from "./memory/session-journal";

/**
 * How a backend answers one operation. Exactly one of `resolve`, `reject` and `dropped` is called,
 * once, and none after a {@link Cancellation.cancel} that returned true. Members are called as
 * methods (a transport may implement a completion as a class, one object per operation).
 */
export interface Completion<R> {
  /** Delivers the answer. */
  resolve(result: R): void;
  /**
   * Delivers a refusal (a {@link StoreError}: the request changed nothing) or a failure (anything
   * else: answered INTERNAL, logged with its cause).
   */
  reject(error: unknown): void;
  /**
   * The operation starts waiting in the session's queue (a writer holds the lock). Called at most
   * once, before the answer; telemetry records the call as one that waited.
   */
  waiting?(): void;
  /**
   * Asked just before a queued lock is granted to this caller: false means it could no longer
   * receive it (gone, or its deadline too close), so the backend skips it and calls `dropped`
   * instead of handing out a lock nobody would release. Lock only.
   */
  isActive?(): boolean;
  /** Called instead of `resolve` when {@link isActive} said false; the waiter has left the queue. */
  dropped?(): void;
}

/** Returned when an operation's answer may come later. */
export interface Cancellation {
  /**
   * The caller is gone. Returns true if the operation is withdrawn: it has changed nothing and its
   * completion will never be called (a waiting Get or Lock leaves its queue; an operation not sent
   * yet is not sent). Returns false if it can no longer be withdrawn (a write already under way):
   * its completion is still called, exactly once. Idempotent.
   */
  cancel(): boolean;
}

/** Get, as the backend receives it. */
export interface BackendGetInput extends SessionKey {
  /** How long to wait for a writer's release, in ms: already capped by max-wait-ms and the deadline. */
  readonly waitMs: number;
}

/** Lock, as the backend receives it (every default applied). */
export interface BackendLockInput extends SessionKey {
  /** How long to wait in the session's FIFO queue, in ms (capped, fitted into the deadline). */
  readonly waitMs: number;
  /** The lease to grant, in ms (> 0). */
  readonly leaseMs: number;
  /** Create a missing session (empty, version 1) and lock it atomically. */
  readonly create: boolean;
  /** TTL of a session this call creates, in seconds (> 0). */
  readonly ttlSeconds: number;
}

/** Set, as the backend receives it. */
export interface BackendSetInput extends SessionKey {
  /** The new data (within max-item-bytes). */
  readonly data: Uint8Array;
  /** New ttl in seconds; 0 keeps an existing session's ttl. */
  readonly ttlSeconds: number;
  /** TTL of a session this call creates, in seconds (> 0): the request's, or the default. */
  readonly createTtlSeconds: number;
  /** 0 = unlocked write; otherwise the holder's lock id (released after the write unless keepLock). */
  readonly lockId: number;
  /** Keep the lock after a write made with lockId. */
  readonly keepLock: boolean;
  /** Non-zero: write only if the current version equals this. */
  readonly expectedVersion: number;
  /** Create only if missing; an existing session is left as it is. */
  readonly onlyIfAbsent: boolean;
}

/** Release, as the backend receives it. */
export interface BackendReleaseInput extends SessionKey {
  /** The holder's lock id (0 never matches). */
  readonly lockId: number;
}

/** Expire, as the backend receives it. */
export interface BackendExpireInput extends SessionKey {
  /** New ttl in seconds; 0 keeps the current one. */
  readonly ttlSeconds: number;
}

/** Remove, as the backend receives it. */
export interface BackendRemoveInput extends SessionKey {
  /** The holder's lock id (ignored for an unlocked session). */
  readonly lockId: number;
}

/**
 * Counts every backend can give, for tests, tools and health: what the contract makes observable,
 * not how the backend keeps it.
 */
export interface BackendCounts {
  /** Sessions that exist (an expired session a backend has not reclaimed yet may still count). */
  readonly sessions: number;
  /** Sessions whose lock is held. */
  readonly lockedSessions: number;
  /** Calls waiting in session queues. */
  readonly waiters: number;
}

/**
 * Gauges and counters of a backend, read synchronously by the metrics and the memory-return loop.
 * A backend reports 0 for what it does not keep (a remote backend holds no slabs here).
 */
export interface BackendStats extends BackendCounts {
  /** Bytes charged against the memory budget. */
  readonly bytesUsed: number;
  /** The memory budget (0: none). */
  readonly maxMemoryBytes: number;
  /** Bytes of memory pages this process holds for payloads and session ids. */
  readonly slabBytes: number;
  /** Bytes of such pages released so far (monotonic): garbage until the next full GC. */
  readonly slabBytesReleased: number;
  /** Sessions removed by expiry so far. */
  readonly expired: number;
  /** Locks released by the backend because their lease ended. */
  readonly leaseExpiries: number;
  /** Locks granted so far. */
  readonly lockGrants: number;
  /** Active-expiry slices run so far. */
  readonly expirySlices: number;
  /** Longest active-expiry slice so far, in ms. */
  readonly longestExpirySliceMs: number;
  /** The memory backend's append-only log (`--data-dir`); absent without one. */
  readonly journal?: JournalStats;
}

/** Why a session ended, as reported to {@link BackendEvents.onSessionEnd}. */
export type SessionEndReason = "expired" | "removed";

/** What a backend reports while it works (the server routes it to Watch, metrics and the log). */
export interface BackendEvents {
  /** A completion threw while the backend answered it; the backend itself stays consistent. */
  readonly onCallbackError?: (error: unknown) => void;
  /**
   * A session ended: it expired or was removed. Called after the backend is consistent again, on
   * the hot path: keep it cheap. `at` is the store clock's time. The session id is a bearer
   * credential: the receiver must not log it. Read at each session end, so a getter may turn it off.
   */
  readonly onSessionEnd?: (app: string, sessionId: string, reason: SessionEndReason, at: number) => void;
  /** One active-expiry slice ran, taking `durationMs` of real time (for the slice-time metric). */
  readonly onExpirySlice?: (durationMs: number) => void;
  /**
   * A remote backend (Redis) became unreachable (false) or reachable again (true); called on
   * changes only. The server reports NOT_SERVING meanwhile. An embedded backend never calls it.
   */
  readonly onAvailability?: (available: boolean) => void;
  /** A remote backend's connection failed (`what` says which); for the log. Never carries session ids or data. */
  readonly onBackendError?: (error: unknown, what: string) => void;
}

/**
 * A place sessions live. Single-threaded like the rest of the server: operations are called on the
 * event loop, and answers may come on a later turn.
 */
export interface SessionBackend {
  /** The backend's name as in `--backend` (e.g. `memory`), for logs and metrics. */
  readonly name: string;
  /**
   * Connects a remote backend (Redis); the server awaits it before it serves, and fails to start
   * if it rejects. An embedded backend has nothing to open.
   */
  open?(): Promise<void>;
  /** Reads a session without locking it (ASP.NET GetItem). */
  get(input: BackendGetInput, completion: Completion<GetResult>): Cancellation | undefined;
  /** Takes a session's exclusive lock (ASP.NET GetItemExclusive), creating it if asked. */
  lock(input: BackendLockInput, completion: Completion<LockResult>): Cancellation | undefined;
  /** Writes a session (ASP.NET SetAndReleaseItemExclusive when lockId is given). */
  set(input: BackendSetInput, completion: Completion<SetResult>): Cancellation | undefined;
  /** Releases a lock given the holder's id (ASP.NET ReleaseItemExclusive). Never a conflict. */
  release(input: BackendReleaseInput, completion: Completion<ReleaseResult>): Cancellation | undefined;
  /** Restarts a session's sliding window, optionally with a new ttl (ASP.NET ResetItemTimeout). */
  expire(input: BackendExpireInput, completion: Completion<ExpireResult>): Cancellation | undefined;
  /** Deletes a session (ASP.NET RemoveItem); a locked one only with the holder's lock id. */
  remove(input: BackendRemoveInput, completion: Completion<RemoveResult>): Cancellation | undefined;
  /** The observable counts (see {@link BackendCounts}): what tests and tools probe, for any backend. */
  counts(): Promise<BackendCounts>;
  /** A synchronous snapshot for metrics (see {@link BackendStats}). */
  stats(): BackendStats;
  /**
   * Stops the backend: every waiting call is rejected with SHUTTING_DOWN, later calls are refused
   * the same way, timers stop. Resolves when the backend has let go of its resources.
   */
  close(): Promise<void>;
}
