/**
 * Requests and results of the store's six operations. Plain data, independent of any transport.
 * Lock ids and versions are JavaScript numbers (safe integers); a transport that carries uint64
 * passes a value above `Number.MAX_SAFE_INTEGER` as `Infinity`, which never matches.
 */

/** Identifies a session: the same id under two apps is two sessions. */
export interface SessionKey {
  /** Application name: 0-128 bytes of visible ASCII. */
  readonly app: string;
  /** Session id: 1-256 bytes of visible ASCII. A bearer credential: never logged. */
  readonly sessionId: string;
}

/** Get: read without locking. */
export interface GetInput extends SessionKey {
  /** Wait up to this long (ms) for a writer's lock to be released; 0 = answer at once. */
  readonly waitMs: number;
}

/** Lock: take the exclusive lock. */
export interface LockInput extends SessionKey {
  /** Wait up to this long (ms) in the session's FIFO queue; 0 = answer at once. */
  readonly waitMs: number;
  /** Lease length in ms; 0 = the store's default. */
  readonly leaseMs: number;
  /** Create a missing session (empty, version 1) and lock it atomically. */
  readonly create: boolean;
  /** TTL of a session created by this call; 0 = the store's default. */
  readonly ttlSeconds: number;
}

/** Set: write, optionally under a lock and/or a version precondition. */
export interface SetInput extends SessionKey {
  /** The new data. */
  readonly data: Uint8Array;
  /** New ttl in seconds; 0 keeps the current one (new sessions: the default). */
  readonly ttlSeconds: number;
  /** 0 = unlocked write; otherwise the holder's lock id (released after the write unless keepLock). */
  readonly lockId: number;
  /** Keep the lock after a write made with lockId. */
  readonly keepLock: boolean;
  /** Non-zero: write only if the current version equals this. */
  readonly expectedVersion: number;
  /** Create only if missing; an existing session is left as it is. */
  readonly onlyIfAbsent: boolean;
}

/** Release: unlock with the holder's lock id. */
export interface ReleaseInput extends SessionKey {
  /** The holder's lock id. */
  readonly lockId: number;
}

/** Expire: restart the sliding window, optionally with a new ttl. */
export interface ExpireInput extends SessionKey {
  /** New ttl in seconds; 0 keeps the current one. */
  readonly ttlSeconds: number;
}

/** Remove: delete; a locked session needs the holder's lock id. */
export interface RemoveInput extends SessionKey {
  /** The holder's lock id (ignored for unlocked sessions). */
  readonly lockId: number;
}

/** The session does not exist (never existed, expired or removed). */
export interface NotFoundResult {
  readonly outcome: "not-found";
}

/** A writer holds the lock. */
export interface LockedResult {
  readonly outcome: "locked";
  /** The holder's lock id. */
  readonly lockId: number;
  /** Milliseconds since the holder took the lock. */
  readonly lockAgeMs: number;
  /** The session's ttl in seconds. */
  readonly ttlSeconds: number;
}

/** Get found the session unlocked. */
export interface ReadOkResult {
  readonly outcome: "ok";
  /** A private copy of the session's data. */
  readonly data: Buffer;
  /** The session's version. */
  readonly version: number;
  /** The session's ttl in seconds. */
  readonly ttlSeconds: number;
}

/** Lock acquired. */
export interface LockOkResult {
  readonly outcome: "ok";
  /** A private copy of the session's data. */
  readonly data: Buffer;
  /** The session's version. */
  readonly version: number;
  /** The new lock id (a fencing token). */
  readonly lockId: number;
  /** The session's ttl in seconds. */
  readonly ttlSeconds: number;
  /** True when this call created the session. */
  readonly created: boolean;
  /** The lease granted, in ms. */
  readonly leaseMs: number;
}

/** Result of Get. */
export type GetResult = ReadOkResult | NotFoundResult | LockedResult;
/** Result of Lock. */
export type LockResult = LockOkResult | NotFoundResult | LockedResult;

/** Result of Set. */
export interface SetResult {
  /** The session's version after the call. */
  readonly version: number;
  /** False only for onlyIfAbsent on an existing session. */
  readonly written: boolean;
}

/** Result of Expire. */
export interface ExpireResult {
  /** False if the session is missing. */
  readonly found: boolean;
  /** The ttl after the call (0 when not found). */
  readonly ttlSeconds: number;
}

/**
 * Receives the answer of a Get or Lock: synchronously when it is known at once, later when the call
 * waits in the session's queue. Exactly one of resolve/reject/dropped is called, once, and never
 * after {@link WaitHandle.cancel}.
 */
export interface WaitCallbacks<R> {
  /** Delivers the answer. */
  readonly resolve: (result: R) => void;
  /** Delivers a failure (only "unavailable" at shutdown). */
  readonly reject: (error: Error) => void;
  /**
   * Asked just before a lock is granted to this waiter: false means the caller is already gone, so
   * the waiter is dropped instead of being handed a lock nobody would release.
   */
  readonly isActive?: () => boolean;
  /**
   * Called instead of resolve/reject when {@link isActive} said false and the waiter was taken out
   * of the queue unanswered: the transport must still end the call (its caller may be gone, or only
   * too close to its deadline for a lock to reach it). Not called after {@link WaitHandle.cancel}.
   */
  readonly dropped?: () => void;
}

/** Returned by Get and Lock when the call waits in the session's queue. */
export interface WaitHandle {
  /** Leaves the queue at once; the callbacks are never called afterwards. Idempotent. */
  cancel(): void;
}
