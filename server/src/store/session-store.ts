/**
 * The backend-neutral session store: the contract's rules that do not depend on where sessions
 * live, applied once for every backend and every transport. It validates each request (a refusal
 * names the field and the limit, and changes nothing), applies the defaults (ttl, lease), caps and
 * fits waits into the caller's deadline, refuses a Lock that could not be delivered in time, and
 * then hands the request to the {@link SessionBackend}, whose answer goes straight to the caller.
 *
 * The gRPC layer is typed against this class only; it never sees a backend.
 */
import { canStillDeliver, NO_DEADLINE, tooLateToLock, waitWithinDeadline, type CallDeadline } from "./call-deadline";
import { systemClock, type Clock } from "./clock";
import { validateCount, validateData, validateKey, validateLease, validateTtl } from "./input-validation";
import type {
  ExpireInput,
  ExpireResult,
  GetInput,
  GetResult,
  LockInput,
  LockResult,
  ReleaseInput,
  ReleaseResult,
  RemoveInput,
  RemoveResult,
  SetInput,
  SetResult,
} from "./operations";
import type { BackendCounts, BackendLockInput, Cancellation, Completion, SessionBackend } from "./session-backend";
import { DEFAULT_SESSION_LIMITS, type SessionLimits } from "./session-limits";
import { StoreError } from "./store-error";

/** How the store answers a caller: the backend's completion, plus whether the caller is gone. */
export interface StoreCompletion<R> {
  /** Delivers the answer. */
  resolve(result: R): void;
  /** Delivers a refusal ({@link StoreError}) or a failure (anything else). */
  reject(error: unknown): void;
  /** The call starts waiting in the session's queue (for telemetry); at most once, before the answer. */
  waiting?(): void;
  /**
   * Whether the caller has gone away (cancelled, disconnected, its stream closed): a queued lock
   * is then not granted to it. Asked only for Lock calls that wait.
   */
  gone?(): boolean;
}

/** The refusal of a Lock that could not reach its caller before the deadline. */
function deadlineTooClose(deadline: CallDeadline, now: number): StoreError {
  const left = Math.max(0, Math.floor(deadline.at - now));
  return new StoreError("deadline-exceeded", "DEADLINE_TOO_CLOSE", `the deadline (${left} ms left) leaves no time to deliver a lock`, {
    remaining_ms: String(left),
  });
}

/**
 * Answers a call with a failure: a refusal of validation, or a backend that broke its contract by
 * throwing instead of answering through the completion (the caller still gets an answer: a
 * StoreError as itself, anything else as an internal error).
 */
function failWith(completion: { reject(error: unknown): void }, error: unknown): undefined {
  completion.reject(error);
  return undefined;
}

/**
 * The session store over one backend.
 */
export class SessionStore {
  /**
   * @param backend - where the sessions live.
   * @param limits - the contract's limits and defaults; omitted fields take {@link DEFAULT_SESSION_LIMITS}.
   * @param clock - the time source of deadlines (the same clock as the backend's; fake in tests).
   */
  constructor(
    readonly backend: SessionBackend,
    limits: Partial<SessionLimits> = {},
    readonly clock: Clock = systemClock,
  ) {
    const given = Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined));
    this.limits = Object.freeze({ ...DEFAULT_SESSION_LIMITS, ...given });
  }

  /** The resolved, frozen limits. */
  readonly limits: SessionLimits;

  /** Reads a session without locking it (ASP.NET GetItem); waits for a writer's release with waitMs. */
  get(input: GetInput, completion: StoreCompletion<GetResult>, deadline: CallDeadline = NO_DEADLINE): Cancellation | undefined {
    try {
      validateKey(input.app, input.sessionId);
      validateCount("wait_ms", input.waitMs);
      const waitMs = this.waitBudget(input.waitMs, deadline);
      return this.backend.get(waitMs === input.waitMs ? input : { app: input.app, sessionId: input.sessionId, waitMs }, completion);
    } catch (error) {
      return failWith(completion, error);
    }
  }

  /** Takes a session's exclusive lock (ASP.NET GetItemExclusive), creating it if asked. */
  lock(input: LockInput, completion: StoreCompletion<LockResult>, deadline: CallDeadline = NO_DEADLINE): Cancellation | undefined {
    const limits = this.limits;
    try {
      validateKey(input.app, input.sessionId);
      validateCount("wait_ms", input.waitMs);
      validateLease(input.leaseMs, limits);
      validateTtl(input.ttlSeconds, limits);
      if (deadline.at !== Infinity) {
        const now = this.clock.now();
        // A lock granted now could not reach the caller in time: refuse before the backend.
        if (tooLateToLock(deadline, now)) throw deadlineTooClose(deadline, now);
      }
      const waitMs = this.waitBudget(input.waitMs, deadline);
      const request: BackendLockInput = {
        app: input.app,
        sessionId: input.sessionId,
        waitMs,
        leaseMs: input.leaseMs === 0 ? limits.defaultLockLeaseMs : input.leaseMs,
        create: input.create,
        ttlSeconds: input.ttlSeconds === 0 ? limits.defaultTtlSeconds : input.ttlSeconds,
      };
      return this.backend.lock(request, waitMs === 0 ? completion : this.queuedLock(completion, deadline));
    } catch (error) {
      return failWith(completion, error);
    }
  }

  /**
   * The completion of a Lock that may queue: never hand a queued lock to a caller that is gone, or
   * whose deadline is too close for the answer to arrive, since nobody would release it before its
   * lease ends; such a waiter is answered DEADLINE_TOO_CLOSE instead.
   */
  private queuedLock(completion: StoreCompletion<LockResult>, deadline: CallDeadline): Completion<LockResult> {
    const clock = this.clock;
    const gone = completion.gone === undefined ? undefined : () => (completion.gone as () => boolean).call(completion);
    return {
      resolve: (result) => completion.resolve(result),
      reject: (error) => completion.reject(error),
      waiting: () => completion.waiting?.(),
      isActive: canStillDeliver(gone, deadline, () => clock.now()),
      dropped: () => completion.reject(deadlineTooClose(deadline, clock.now())),
    };
  }

  /** Writes a session (ASP.NET SetAndReleaseItemExclusive when lockId is given). */
  set(input: SetInput, completion: Completion<SetResult>): Cancellation | undefined {
    const limits = this.limits;
    try {
      validateKey(input.app, input.sessionId);
      validateData(input.data, limits);
      validateTtl(input.ttlSeconds, limits);
      validateCount("lock_id", input.lockId);
      validateCount("expected_version", input.expectedVersion);
      return this.backend.set(
        {
          app: input.app,
          sessionId: input.sessionId,
          data: input.data,
          ttlSeconds: input.ttlSeconds,
          createTtlSeconds: input.ttlSeconds === 0 ? limits.defaultTtlSeconds : input.ttlSeconds,
          lockId: input.lockId,
          keepLock: input.keepLock,
          expectedVersion: input.expectedVersion,
          onlyIfAbsent: input.onlyIfAbsent,
        },
        completion,
      );
    } catch (error) {
      return failWith(completion, error);
    }
  }

  /** Releases a lock given the holder's id (ASP.NET ReleaseItemExclusive). Never a conflict. */
  release(input: ReleaseInput, completion: Completion<ReleaseResult>): Cancellation | undefined {
    try {
      validateKey(input.app, input.sessionId);
      validateCount("lock_id", input.lockId);
      return this.backend.release(input, completion);
    } catch (error) {
      return failWith(completion, error);
    }
  }

  /** Restarts a session's sliding window, optionally with a new ttl (ASP.NET ResetItemTimeout). */
  expire(input: ExpireInput, completion: Completion<ExpireResult>): Cancellation | undefined {
    try {
      validateKey(input.app, input.sessionId);
      validateTtl(input.ttlSeconds, this.limits);
      return this.backend.expire(input, completion);
    } catch (error) {
      return failWith(completion, error);
    }
  }

  /** Deletes a session (ASP.NET RemoveItem); a locked one only with the holder's lock id. */
  remove(input: RemoveInput, completion: Completion<RemoveResult>): Cancellation | undefined {
    try {
      validateKey(input.app, input.sessionId);
      validateCount("lock_id", input.lockId);
      return this.backend.remove(input, completion);
    } catch (error) {
      return failWith(completion, error);
    }
  }

  /** The backend's observable counts (sessions, locked sessions, waiters). */
  counts(): Promise<BackendCounts> {
    return this.backend.counts();
  }

  /** Closes the backend: waiting calls are answered SHUTTING_DOWN, later calls refused the same way. */
  close(): Promise<void> {
    return this.backend.close();
  }

  /** The wait to ask the backend for: capped by max-wait-ms, then fitted into the deadline. */
  private waitBudget(requestedMs: number, deadline: CallDeadline): number {
    if (requestedMs === 0) return 0;
    const capped = Math.min(requestedMs, this.limits.maxWaitMs);
    return deadline.at === Infinity ? capped : waitWithinDeadline(capped, deadline, this.clock.now());
  }
}
