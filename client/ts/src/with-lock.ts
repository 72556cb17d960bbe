/**
 * `withLock`: the read-modify-write of one session under its lock, with every way out covered
 * (write-and-release, release, release on throw) and nothing renewed behind the caller's back.
 */
import { status } from "@grpc/grpc-js";
import { StatewardError, toStatewardError } from "./errors";
import type { LockedResult, NotFoundResult } from "./results";
import type { CallOptions, SessionOperations } from "./session-client";

/** Default server-side wait for the lock in {@link withLock}, in ms. */
export const DEFAULT_LOCK_WAIT_MS = 10_000;

/** Options of {@link withLock}. */
export interface WithLockOptions extends CallOptions {
  /** How long to wait (server-side, FIFO) for another holder to release the lock, in ms. Default 10,000. */
  readonly waitMs?: number;
  /** The lease in ms: the server releases the lock by itself when it ends. Default: the server's (110,000). */
  readonly leaseMs?: number;
  /** Create a missing session (empty data, version 1) and lock it in one step. Default false. */
  readonly create?: boolean;
  /** TTL in seconds of a session created here and of the written-back session. Default: keep (new: the server's). */
  readonly ttlSeconds?: number;
}

/** What `fn` learns about the lock it runs under. */
export interface LockContext {
  /** The lock id (fencing token) `fn` runs under. */
  readonly lockId: bigint;
  /** The session's version when the lock was taken. */
  readonly version: bigint;
  /** True when this call created the session (`create`). */
  readonly created: boolean;
  /** Milliseconds the lease had left when the lock was granted. */
  readonly leaseMs: number;
  /**
   * Aborts when the lease ends (the server has then released the lock, and the write-back will
   * fail): pass it to long work so that it stops instead of computing a write that cannot land.
   */
  readonly signal: AbortSignal;
}

/**
 * The work done under the lock: receives the session's data, returns the new data to write back
 * (a string is written as UTF-8), or `undefined` to leave the session unchanged.
 */
export type WithLockFunction = (
  data: Buffer,
  context: LockContext,
) => Uint8Array | string | undefined | void | Promise<Uint8Array | string | undefined | void>;

/** `fn` ran under the lock. */
export interface WithLockOkResult {
  /** Discriminant: the lock was taken and `fn` ran. */
  readonly outcome: "ok";
  /** True if `fn` returned data and it was written (with the release, in one call). */
  readonly written: boolean;
  /** The session's data now: what `fn` returned, or what it was given. */
  readonly data: Buffer;
  /** The session's version now. */
  readonly version: bigint;
}

/**
 * Result of {@link withLock}: `ok` when `fn` ran; `locked` when another holder kept the lock for the
 * whole wait (`fn` did not run); `not-found` for a missing session without `create`.
 */
export type WithLockResult = WithLockOkResult | LockedResult | NotFoundResult;

/**
 * Frees a lock after a failure, ignoring the caller's signal (an aborted caller must still free
 * it) and any error (best effort: the lease frees it anyway; the caller gets the error that matters).
 */
export async function releaseQuietly(
  client: SessionOperations,
  app: string,
  sessionId: string,
  lockId: bigint,
  metadata: CallOptions["metadata"],
): Promise<void> {
  try {
    await client.release(app, sessionId, lockId, { metadata });
  } catch {
    // See above.
  }
}

function toBuffer(data: Uint8Array | string): Buffer {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Runs `fn` under the session's lock. See {@link SessionClient.withLock}.
 *
 * @throws {@link StatewardError} ABORTED (`LEASE_EXPIRED`, `STALE_LOCK_ID`, `SESSION_GONE`) when the
 *   lease ended before the write-back: nothing was written. Whatever `fn` throws is rethrown after
 *   the lock is released.
 */
export async function withLock(
  client: SessionOperations,
  app: string,
  sessionId: string,
  fn: WithLockFunction,
  options: WithLockOptions = {},
): Promise<WithLockResult> {
  const { waitMs = DEFAULT_LOCK_WAIT_MS, leaseMs, create, ttlSeconds, timeoutMs, signal, metadata } = options;
  const lock = await client.lock(app, sessionId, { waitMs, leaseMs, create, ttlSeconds, timeoutMs, signal, metadata });
  if (lock.outcome !== "ok") return lock;

  // Releases on the way out ignore the caller's signal: an aborted caller must still free the lock.
  const release = (): Promise<void> => releaseQuietly(client, app, sessionId, lock.lockId, metadata);

  const lease = new AbortController();
  // A server that does not report the lease (0) gets no timer: the signal then never fires.
  const leaseTimer =
    lock.leaseMs > 0
      ? setTimeout(() => {
          lease.abort(new StatewardError(status.ABORTED, "LEASE_EXPIRED", `the lock's lease of ${lock.leaseMs} ms ended`, "withLock"));
        }, lock.leaseMs)
      : undefined;
  leaseTimer?.unref();

  let next: Uint8Array | string | undefined | void;
  try {
    next = await fn(lock.data, { lockId: lock.lockId, version: lock.version, created: lock.created, leaseMs: lock.leaseMs, signal: lease.signal });
  } catch (error) {
    clearTimeout(leaseTimer);
    await release();
    throw error;
  } finally {
    clearTimeout(leaseTimer);
  }

  if (next === undefined) {
    // Nothing to write, so an ended lease loses nothing: "not-held" is fine here. No signal: an
    // aborted caller must still free the lock.
    await client.release(app, sessionId, lock.lockId, { timeoutMs, metadata });
    return { outcome: "ok", written: false, data: lock.data, version: lock.version };
  }

  const data = toBuffer(next);
  try {
    // Set with the lock id writes and releases in one call; a lease that ended fails it loudly.
    const written = await client.set(app, sessionId, data, { lockId: lock.lockId, ttlSeconds, timeoutMs, signal, metadata });
    return { outcome: "ok", written: true, data, version: written.version };
  } catch (error) {
    const failure = toStatewardError(error, "withLock");
    // ABORTED: the lock is not ours any more. Anything else (UNAVAILABLE, a deadline): it may still
    // be, so free it rather than leave it to the lease.
    if (failure.code !== status.ABORTED) await release();
    throw failure;
  }
}
