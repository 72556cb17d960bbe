/**
 * The ASP.NET request pattern as one call each. SessionStateModule, per request:
 * AcquireRequestState reads (GetItem) for a read-only page or locks (GetItemExclusive) for a
 * writer, polling every 500 ms while it is locked and force-releasing the lock once its age passes
 * executionTimeout; ReleaseRequestState then writes-and-releases, releases, or removes
 * (Session.Abandon).
 *
 * Against Stateward the polling is replaced by server-side waiting and the forced release by the
 * lease; `forcedRelease` keeps the module's rule for servers that do neither (a server that
 * ignores `wait_ms` and never ends leases), or for leases longer than your executionTimeout.
 */
import { status } from "@grpc/grpc-js";
import { StatewardError, toStatewardError } from "./errors";
import type { GetResult, LockedResult, LockResult } from "./results";
import type { CallOptions, SessionOperations } from "./session-client";
import { DEFAULT_LOCK_WAIT_MS, releaseQuietly, retryWaiterLimit, type WaiterLimitRetryOptions } from "./with-lock";

/**
 * Default wait for a held lock in {@link beginRequest}, in ms.
 *
 * @deprecated The same value as {@link DEFAULT_LOCK_WAIT_MS}, the one default of every lock helper; use that.
 */
export const DEFAULT_REQUEST_WAIT_MS = DEFAULT_LOCK_WAIT_MS;

/** The module's forced-release rule. */
export interface ForcedReleaseOptions {
  /**
   * A waiter that finds the lock older than this force-releases it with the holder's lock id
   * (ASP.NET's executionTimeout). Default 110,000.
   */
  readonly executionTimeoutMs?: number;
  /**
   * How often to ask again when the server answers "locked" without waiting (a server that is not
   * Stateward-aware), in ms. ASP.NET polls every 500 ms. Default 500.
   */
  readonly pollIntervalMs?: number;
}

/** Options of {@link beginRequest}. */
export interface BeginRequestOptions extends CallOptions {
  /** A read-only request reads without locking (GetItem); otherwise the request takes the lock. */
  readonly readOnly: boolean;
  /**
   * How long to wait for a writer's lock to be released, in ms: the whole budget, retries after
   * `TOO_MANY_WAITERS` included. Default 10,000.
   */
  readonly waitMs?: number;
  /** Writers: the lock's lease in ms. Default: the server's (110,000, ASP.NET's executionTimeout). */
  readonly leaseMs?: number;
  /**
   * Writers: create a missing session (empty, locked) in one step, which serialises concurrent
   * first requests on a new id (ASP.NET's create-uninitialized-then-lock). Default false.
   */
  readonly create?: boolean;
  /** TTL in seconds of a session created by `create`. Default: the server's. */
  readonly ttlSeconds?: number;
  /**
   * Apply ASP.NET's forced-release rule (`true`: with its defaults). Off by default: Stateward's
   * leases already release a dead holder's lock, and its waiters are woken without polling.
   */
  readonly forcedRelease?: boolean | ForcedReleaseOptions;
  /**
   * Retry a Get or Lock refused with `TOO_MANY_WAITERS` (the session's queue was full) within
   * `waitMs`; `false` passes the refusal through at once. Default: `DEFAULT_WAITER_LIMIT_RETRY` (see
   * {@link WaiterLimitRetryOptions}).
   */
  readonly waiterLimitRetry?: WaiterLimitRetryOptions | false;
}

interface RequestBase {
  /** The application. */
  readonly app: string;
  /** The session id. */
  readonly sessionId: string;
  /** True for a reader (no lock). */
  readonly readOnly: boolean;
}

/** A request on an existing session. */
export interface FoundSessionRequest extends RequestBase {
  /** Discriminant: the session exists (and writers hold its lock). */
  readonly outcome: "ok";
  /** The session's data. */
  readonly data: Buffer;
  /** The session's version. */
  readonly version: bigint;
  /** The session's ttl in seconds. */
  readonly ttlSeconds: number;
  /** Writers: the lock id the request holds. Readers: undefined. */
  readonly lockId: bigint | undefined;
  /** Writers: true when `create` created the session. */
  readonly created: boolean;
}

/** A request on a missing session (a writer holds no lock: there is nothing to lock). */
export interface MissingSessionRequest extends RequestBase {
  /** Discriminant: no such session. */
  readonly outcome: "not-found";
}

/** A begun request, to hand to {@link endRequest}. */
export type SessionRequest = FoundSessionRequest | MissingSessionRequest;

/** Result of {@link beginRequest}: the request, or `locked` when the wait ran out. */
export type BeginRequestResult = SessionRequest | LockedResult;

/** Options of {@link endRequest}. */
export interface EndRequestOptions extends CallOptions {
  /** The session's new data: written (and the lock released in the same call). */
  readonly data?: Uint8Array | string;
  /** Remove the session (Session.Abandon). */
  readonly abandon?: boolean;
  /** TTL in seconds for the written session. Default: keep (new sessions: the server's). */
  readonly ttlSeconds?: number;
}

/** Result of {@link endRequest}. */
export type EndRequestResult =
  | {
      /** Discriminant: the data was written (and the lock released). */
      readonly outcome: "written";
      /** The version written. */
      readonly version: bigint;
    }
  | {
      /** Discriminant: the lock was released, nothing written. */
      readonly outcome: "released";
    }
  | {
      /** Discriminant: the lock was no longer held (its lease ended); nothing was to be written. */
      readonly outcome: "not-held";
    }
  | {
      /** Discriminant: the session was removed. */
      readonly outcome: "removed";
    }
  | {
      /** Discriminant: nothing to do (a reader, or a missing session left alone). */
      readonly outcome: "none";
    };

interface ResolvedForcedRelease {
  readonly executionTimeoutMs: number;
  readonly pollIntervalMs: number;
}

function resolveForced(option: boolean | ForcedReleaseOptions | undefined): ResolvedForcedRelease | undefined {
  if (option === undefined || option === false) return undefined;
  const given = option === true ? {} : option;
  return {
    executionTimeoutMs: Math.max(0, given.executionTimeoutMs ?? 110_000),
    pollIntervalMs: Math.max(1, given.pollIntervalMs ?? 500),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Begins a request: reads (readers) or locks (writers), waiting up to `waitMs` for a writer's lock.
 * See {@link SessionClient.beginRequest}.
 */
export async function beginRequest(
  client: SessionOperations,
  app: string,
  sessionId: string,
  options: BeginRequestOptions,
): Promise<BeginRequestResult> {
  const { readOnly, waitMs = DEFAULT_LOCK_WAIT_MS, leaseMs, create, ttlSeconds, timeoutMs, signal, metadata } = options;
  const forced = resolveForced(options.forcedRelease);
  const deadline = Date.now() + Math.max(0, waitMs);
  // Each look may find the session's queue full; it is retried within that look's own wait, which
  // never reaches past `deadline`, so the request never waits longer in all than `waitMs`.
  const attempt = (wait: number): Promise<GetResult | LockResult> =>
    retryWaiterLimit(options.waiterLimitRetry, { waitMs: wait, timeoutMs, signal }, "beginRequest", (waitLeft, timeoutLeft) =>
      readOnly
        ? client.get(app, sessionId, { waitMs: waitLeft, timeoutMs: timeoutLeft, signal, metadata })
        : client.lock(app, sessionId, { waitMs: waitLeft, leaseMs, create, ttlSeconds, timeoutMs: timeoutLeft, signal, metadata }),
    );

  // With the forced-release rule the first look does not wait: it tells the holder's age.
  let wait = forced === undefined ? Math.max(0, waitMs) : 0;
  // Force each holder's lock once: a server that ignores the release must not make us spin.
  let forcedLockId: bigint | undefined;
  for (;;) {
    const started = Date.now();
    const result = await attempt(wait);
    if (result.outcome === "not-found") return { outcome: "not-found", app, sessionId, readOnly };
    if (result.outcome === "ok") {
      return {
        outcome: "ok",
        app,
        sessionId,
        readOnly,
        data: result.data,
        version: result.version,
        ttlSeconds: result.ttlSeconds,
        lockId: "lockId" in result ? result.lockId : undefined,
        created: "created" in result ? result.created : false,
      };
    }
    if (forced === undefined) return result;
    if (result.lockAgeMs >= forced.executionTimeoutMs && result.lockId !== forcedLockId) {
      // ASP.NET's rule: the holder ran past executionTimeout; take its lock away with its id.
      forcedLockId = result.lockId;
      await client.release(app, sessionId, result.lockId, { timeoutMs, metadata });
      wait = 0;
      continue;
    }
    if (Date.now() >= deadline) return result;
    const answeredAt = Date.now();
    if (wait > 0 && answeredAt - started + 5 < wait) {
      // The server answered without waiting (it is not Stateward-aware): poll, as the module does.
      await sleep(Math.min(forced.pollIntervalMs, deadline - answeredAt, forced.executionTimeoutMs - result.lockAgeMs));
    }
    // Wait server-side until the holder would pass executionTimeout, or the wait runs out.
    const untilForced = forced.executionTimeoutMs - result.lockAgeMs - (Date.now() - answeredAt);
    wait = Math.max(0, Math.min(deadline - Date.now(), untilForced));
  }
}

/**
 * Ends a request begun with {@link beginRequest}. See {@link SessionClient.endRequest}.
 *
 * @throws {@link StatewardError} FAILED_PRECONDITION `READ_ONLY_REQUEST` if a reader tries to write
 *   or abandon; ABORTED from the server if a writer's lease ended before its write (nothing was
 *   written); ABORTED `SESSION_EXISTS` if a new session's id was created meanwhile by someone else.
 */
export async function endRequest(client: SessionOperations, request: SessionRequest, options: EndRequestOptions = {}): Promise<EndRequestResult> {
  const { data, abandon = false, ttlSeconds, timeoutMs, signal, metadata } = options;
  const call = { timeoutMs, signal, metadata };
  if (request.readOnly) {
    if (data !== undefined || abandon) {
      throw new StatewardError(status.FAILED_PRECONDITION, "READ_ONLY_REQUEST", "a read-only request cannot write or remove its session", "endRequest");
    }
    return { outcome: "none" };
  }
  if (request.outcome === "ok" && request.lockId !== undefined) {
    const lockId = request.lockId;
    try {
      if (abandon) {
        await client.remove(request.app, request.sessionId, { ...call, lockId });
        return { outcome: "removed" };
      }
      if (data !== undefined) {
        const written = await client.set(request.app, request.sessionId, data, { ...call, lockId, ttlSeconds });
        return { outcome: "written", version: written.version };
      }
    } catch (error) {
      const failure = toStatewardError(error, "endRequest");
      // ABORTED: the lock is not ours any more. Anything else (cancelled, unavailable, a deadline):
      // it may still be, so free it rather than leave it to the lease.
      if (failure.code !== status.ABORTED) await releaseQuietly(client, request.app, request.sessionId, lockId, metadata);
      throw failure;
    }
    // No signal: an aborted request must still free its lock.
    const released = await client.release(request.app, request.sessionId, lockId, { timeoutMs, metadata });
    return released.outcome === "ok" ? { outcome: "released" } : { outcome: "not-held" };
  }
  // A missing session: nothing was locked. Create it only if nobody else did meanwhile.
  if (abandon) {
    const removed = await client.remove(request.app, request.sessionId, call);
    return removed.outcome === "ok" ? { outcome: "removed" } : { outcome: "none" };
  }
  if (data === undefined) return { outcome: "none" };
  const written = await client.set(request.app, request.sessionId, data, { ...call, ttlSeconds, onlyIfAbsent: true });
  if (written.outcome === "exists") {
    throw new StatewardError(status.ABORTED, "SESSION_EXISTS", "another request created this session first; nothing was written", "endRequest");
  }
  return { outcome: "written", version: written.version };
}
