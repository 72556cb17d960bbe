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

/** Result of Release. */
export interface ReleaseResult {
  /** True if lockId was the holder's and the lock is now released; false changed nothing. */
  readonly released: boolean;
}

/** Result of Remove. */
export interface RemoveResult {
  /** True if the session existed and was removed. */
  readonly removed: boolean;
}

/** The two Release answers (frozen: no allocation per call). */
export const RELEASED: ReleaseResult = Object.freeze({ released: true });
/** See {@link RELEASED}. */
export const NOT_RELEASED: ReleaseResult = Object.freeze({ released: false });
/** The two Remove answers. */
export const REMOVED: RemoveResult = Object.freeze({ removed: true });
/** See {@link REMOVED}. */
export const NOT_REMOVED: RemoveResult = Object.freeze({ removed: false });
