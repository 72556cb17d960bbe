/**
 * `withLock`: the read-modify-write of one session under its lock, with every way out covered
 * (write-and-release, release, release on throw) and nothing renewed behind the caller's back.
 */
import { status } from "@grpc/grpc-js";
import { StatewardError, toStatewardError, type StatewardOperation } from "./errors";
import type { LockedResult, NotFoundResult } from "./results";
import type { CallOptions, SessionOperations } from "./session-client";

/**
 * Default wait for a held lock, in ms, of every lock helper ({@link withLock}, `beginRequest`, the
 * Express store), as in the Python and Go clients (docs/client-behaviour.md): long enough for the
 * other requests of one user to finish, short enough that a request that waited it all still
 * answers within a proxy's or browser's patience.
 */
export const DEFAULT_LOCK_WAIT_MS = 10_000;

/**
 * Retry of `RESOURCE_EXHAUSTED` / `TOO_MANY_WAITERS`: the session's queue was full (the server's
 * `--max-waiters`, default 50, ASP.NET's per-session queue limit), so the call could not even
 * start waiting. Each retry waits a random time up to the current backoff ("full jitter", so that
 * the refused callers do not come back together), and the backoff doubles up to `maxBackoffMs`.
 * Retries happen only within the caller's wait budget (`waitMs`, and `timeoutMs` when given):
 * when it runs out, one last look that does not wait answers as a wait that ran out does
 * (`locked`), so the caller never waits longer in all than it allowed.
 */
export interface WaiterLimitRetryOptions {
  /** The first backoff, in ms: the first retry comes a random 0 to this many ms later. Default 20. */
  readonly initialBackoffMs?: number;
  /** The longest backoff, in ms (the backoff doubles per retry up to this). Default 1,000. */
  readonly maxBackoffMs?: number;
}

/** Defaults of {@link WaiterLimitRetryOptions}: a first retry within 20 ms, backoffs of at most 1 s. */
export const DEFAULT_WAITER_LIMIT_RETRY: Readonly<Required<WaiterLimitRetryOptions>> = Object.freeze({ initialBackoffMs: 20, maxBackoffMs: 1_000 });

/** Options of {@link withLock}. */
export interface WithLockOptions extends CallOptions {
  /**
   * How long to wait (server-side, FIFO) for another holder to release the lock, in ms: the whole
   * budget for taking it, retries after `TOO_MANY_WAITERS` included. Default 10,000.
   */
  readonly waitMs?: number;
  /** The lease in ms: the server releases the lock by itself when it ends. Default: the server's (110,000). */
  readonly leaseMs?: number;
  /**
   * Create a missing session (empty data, version 1) and lock it in one step, so that `fn` sees an
   * expired or new session as empty data, as the Python and Go clients' lock helpers do. `false`:
   * a missing session is the outcome `not-found` and `fn` does not run. Default true.
   */
  readonly create?: boolean;
  /** TTL in seconds of a session created here and of the written-back session. Default: keep (new: the server's). */
  readonly ttlSeconds?: number;
  /**
   * Retry a Lock refused with `TOO_MANY_WAITERS` (the session's queue was full) within `waitMs`;
   * `false` passes the refusal through at once. Default {@link DEFAULT_WAITER_LIMIT_RETRY}.
   */
  readonly waiterLimitRetry?: WaiterLimitRetryOptions | false;
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
 * whole wait (`fn` did not run; the Python and Go helpers raise `LOCK_WAIT_TIMEOUT` for it); `not-found`
 * for a missing session with `create: false`.
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

/** The caller's wait budget for {@link retryWaiterLimit}. */
export interface WaitBudget {
  /** The longest wait in all, in ms (0: the call does not wait, so it is never refused for the queue). */
  readonly waitMs: number;
  /** The caller's deadline in ms from now for all attempts together, if it gave one. */
  readonly timeoutMs?: number | undefined;
  /** Aborting stops the retries too: the call then fails with CANCELLED. */
  readonly signal?: AbortSignal | undefined;
}

/** The policy with its defaults filled in and its bounds made sane (`undefined`: no retries). */
function resolveWaiterLimitRetry(retry: WaiterLimitRetryOptions | false | undefined): Required<WaiterLimitRetryOptions> | undefined {
  if (retry === false) return undefined;
  const initialBackoffMs = Math.max(1, retry?.initialBackoffMs ?? DEFAULT_WAITER_LIMIT_RETRY.initialBackoffMs);
  return { initialBackoffMs, maxBackoffMs: Math.max(initialBackoffMs, retry?.maxBackoffMs ?? DEFAULT_WAITER_LIMIT_RETRY.maxBackoffMs) };
}

/** True for the server's refusal of a call because the session's queue was full. */
export function isWaiterLimitError(error: unknown): boolean {
  const failure = toStatewardError(error, "lock");
  return failure.code === status.RESOURCE_EXHAUSTED && failure.reason === "TOO_MANY_WAITERS";
}

/** Resolves after `ms`, or rejects with CANCELLED as soon as `signal` aborts. */
function backoff(ms: number, signal: AbortSignal | undefined, operation: StatewardOperation): Promise<void> {
  return new Promise((resolve, reject) => {
    const aborted = (): StatewardError => new StatewardError(status.CANCELLED, undefined, "the operation was aborted", operation);
    if (signal?.aborted === true) {
      reject(aborted());
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(aborted());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs a waiting Get or Lock (`attempt`, given the wait and deadline left), retrying it while the
 * server refuses it with `TOO_MANY_WAITERS`, per {@link WaiterLimitRetryOptions}, within `budget`.
 * `withLock`, `beginRequest` and the Express store use it; it is exported for code that builds its
 * own lock pattern on {@link SessionOperations}.
 *
 * @param retry - the policy; `false` runs `attempt` once.
 * @param budget - the caller's wait, deadline and signal.
 * @param operation - names the operation in the CANCELLED error of an abort during a backoff.
 * @param attempt - one call, given the wait (ms) and the deadline (ms, or undefined) left.
 * @throws whatever the last attempt threw: `TOO_MANY_WAITERS` itself only with `retry: false`, or
 *   when the caller's `timeoutMs` ends before its `waitMs` does.
 */
export async function retryWaiterLimit<T>(
  retry: WaiterLimitRetryOptions | false | undefined,
  budget: WaitBudget,
  operation: StatewardOperation,
  attempt: (waitMs: number, timeoutMs: number | undefined) => Promise<T>,
): Promise<T> {
  const started = Date.now();
  const waitEnd = started + Math.max(0, budget.waitMs);
  const callEnd = budget.timeoutMs === undefined ? undefined : started + Math.max(0, budget.timeoutMs);
  const policy = resolveWaiterLimitRetry(retry);
  let ceiling = policy?.initialBackoffMs ?? 0;
  for (;;) {
    const now = Date.now();
    const waitMs = Math.max(0, waitEnd - now);
    try {
      return await attempt(waitMs, callEnd === undefined ? undefined : Math.max(1, callEnd - now));
    } catch (error) {
      // A call that did not wait cannot have been refused for the queue: never loop on it.
      if (policy === undefined || waitMs === 0 || !isWaiterLimitError(error)) throw error;
      // Never sleep past the wait budget: once it is spent, the next attempt does not wait and
      // answers as an expired wait would.
      const delay = Math.min(Math.random() * ceiling, Math.max(0, waitEnd - Date.now()));
      if (callEnd !== undefined && Date.now() + delay >= callEnd) throw error;
      await backoff(delay, budget.signal, operation);
      ceiling = Math.min(ceiling * 2, policy.maxBackoffMs);
    }
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
  const { waitMs = DEFAULT_LOCK_WAIT_MS, leaseMs, create = true, ttlSeconds, timeoutMs, signal, metadata } = options;
  // A full queue is retried within the caller's budget: the caller asked to wait, and would have
  // waited had it come a moment later.
  const lock = await retryWaiterLimit(options.waiterLimitRetry, { waitMs, timeoutMs, signal }, "withLock", (wait, timeout) =>
    client.lock(app, sessionId, { waitMs: wait, leaseMs, create, ttlSeconds, timeoutMs: timeout, signal, metadata }),
  );
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
