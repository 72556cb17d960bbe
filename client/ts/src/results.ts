/**
 * The SDK's results: one discriminated union per operation, on `outcome`, converted from the wire
 * messages. A missing session and a held lock are outcomes, never exceptions; exceptions are
 * reserved for refusals and failures ({@link StatewardError}).
 *
 * Lock ids and versions are `bigint`: on the wire they are uint64 fencing tokens, and a `number`
 * would silently round ids above 2^53. Ages, ttls and leases are plain `number`s (milliseconds and
 * seconds that stay far below 2^53).
 */
import {
  Outcome,
  type ExpireResponse,
  type GetResponse,
  type LockResponse,
  type ReleaseResponse,
  type RemoveResponse,
  type SetResponse,
} from "@stateward/protocol";
import { status } from "@grpc/grpc-js";
import { ClientReason, StatewardError } from "./errors";

/** The session is locked by a writer: who holds it, and since when. No data. */
export interface LockedResult {
  /** Discriminant: a writer holds the lock. */
  readonly outcome: "locked";
  /** The holder's lock id (not a secret: a waiter may force-release with it, as ASP.NET's do). */
  readonly lockId: bigint;
  /** Milliseconds since the holder took the lock. */
  readonly lockAgeMs: number;
}

/** No such session: it never existed, expired, or was removed. */
export interface NotFoundResult {
  /** Discriminant: no such session. */
  readonly outcome: "not-found";
}

/** A session read without a lock. */
export interface GetOkResult {
  /** Discriminant: the data was read. */
  readonly outcome: "ok";
  /** The session's data. */
  readonly data: Buffer;
  /** The session's version: 1 on creation, +1 on every write. */
  readonly version: bigint;
  /** The session's sliding-expiry window in seconds. */
  readonly ttlSeconds: number;
}

/** Result of {@link SessionClient.get}. */
export type GetResult = GetOkResult | LockedResult | NotFoundResult;

/** A lock taken: the data, and the lock id to write or release with. */
export interface LockOkResult {
  /** Discriminant: the lock is yours. */
  readonly outcome: "ok";
  /** The session's data. */
  readonly data: Buffer;
  /** The session's version. */
  readonly version: bigint;
  /** The session's sliding-expiry window in seconds. */
  readonly ttlSeconds: number;
  /** Your lock id: a fencing token, strictly increasing per session, never reused. */
  readonly lockId: bigint;
  /** True when this call created the session (`create: true` on a missing session). */
  readonly created: boolean;
  /** Milliseconds until the lease ends and the server releases the lock by itself. */
  readonly leaseMs: number;
}

/** Result of {@link SessionClient.lock}. */
export type LockResult = LockOkResult | LockedResult | NotFoundResult;

/** Result of {@link SessionClient.set}. */
export type SetResult =
  | {
      /** Discriminant: the data was written (and the lock released, if a lock id was given without keepLock). */
      readonly outcome: "ok";
      /** The session's version after the write. */
      readonly version: bigint;
    }
  | {
      /** Discriminant: `onlyIfAbsent` found an existing session; nothing changed. */
      readonly outcome: "exists";
      /** The existing session's version. */
      readonly version: bigint;
    };

/** Result of {@link SessionClient.release}. */
export type ReleaseResult =
  | {
      /** Discriminant: the lock was released. */
      readonly outcome: "ok";
    }
  | {
      /**
       * Discriminant: the lock id does not hold the lock (already released, lease ended, session
       * gone, or never the holder's). Nothing changed. After a retried release this may also mean
       * that the first attempt released it.
       */
      readonly outcome: "not-held";
    };

/** Result of {@link SessionClient.expire}. */
export type ExpireResult =
  | {
      /** Discriminant: the window was restarted. */
      readonly outcome: "ok";
      /** The session's ttl in seconds after the call. */
      readonly ttlSeconds: number;
    }
  | NotFoundResult;

/** Result of {@link SessionClient.remove}. */
export type RemoveResult =
  | {
      /** Discriminant: the session was removed. */
      readonly outcome: "ok";
    }
  | NotFoundResult;

const NOT_FOUND: NotFoundResult = Object.freeze({ outcome: "not-found" });

/**
 * An outcome this SDK does not know (a newer server's, or none): an error rather than a guess, since
 * reading it as "not found" would let a lock helper act on a session it knows nothing about.
 */
function unknownOutcome(outcome: number, operation: "get" | "lock"): StatewardError {
  return new StatewardError(status.INTERNAL, ClientReason.UNKNOWN_OUTCOME, `the server sent an unknown outcome ${outcome}`, operation);
}

function locked(response: GetResponse | LockResponse): LockedResult {
  return { outcome: "locked", lockId: response.lockId, lockAgeMs: Number(response.lockAgeMs) };
}

/** @internal Converts a wire GetResponse. */
export function toGetResult(response: GetResponse): GetResult {
  switch (response.outcome) {
    case Outcome.OUTCOME_OK:
      return { outcome: "ok", data: response.data, version: response.version, ttlSeconds: response.ttlSeconds };
    case Outcome.OUTCOME_LOCKED:
      return locked(response);
    case Outcome.OUTCOME_NOT_FOUND:
      return NOT_FOUND;
    default:
      throw unknownOutcome(response.outcome, "get");
  }
}

/** @internal Converts a wire LockResponse. */
export function toLockResult(response: LockResponse): LockResult {
  switch (response.outcome) {
    case Outcome.OUTCOME_OK:
      return {
        outcome: "ok",
        data: response.data,
        version: response.version,
        ttlSeconds: response.ttlSeconds,
        lockId: response.lockId,
        created: response.created,
        leaseMs: response.leaseMs,
      };
    case Outcome.OUTCOME_LOCKED:
      return locked(response);
    case Outcome.OUTCOME_NOT_FOUND:
      return NOT_FOUND;
    default:
      throw unknownOutcome(response.outcome, "lock");
  }
}

/** @internal Converts a wire SetResponse. */
export function toSetResult(response: SetResponse): SetResult {
  return response.written ? { outcome: "ok", version: response.version } : { outcome: "exists", version: response.version };
}

/** @internal Converts a wire ReleaseResponse. */
export function toReleaseResult(response: ReleaseResponse): ReleaseResult {
  return response.released ? { outcome: "ok" } : { outcome: "not-held" };
}

/** @internal Converts a wire ExpireResponse. */
export function toExpireResult(response: ExpireResponse): ExpireResult {
  return response.found ? { outcome: "ok", ttlSeconds: response.ttlSeconds } : NOT_FOUND;
}

/** @internal Converts a wire RemoveResponse. */
export function toRemoveResult(response: RemoveResponse): RemoveResult {
  return response.removed ? { outcome: "ok" } : NOT_FOUND;
}
