/**
 * Conversion between the generated wire messages (uint64 as bigint, bytes as Buffer, Outcome enum)
 * and the store's plain inputs and results (safe-integer numbers, outcome strings).
 */
import {
  Outcome,
  type ExpireRequest,
  type ExpireResponse,
  type GetRequest,
  type GetResponse,
  type LockRequest,
  type LockResponse,
  type ReleaseRequest,
  type ReleaseResponse,
  type RemoveRequest,
  type RemoveResponse,
  type SetRequest,
  type SetResponse,
} from "@stateward/protocol";
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
} from "../store/operations";

const MAX_SAFE_BIGINT = BigInt(Number.MAX_SAFE_INTEGER);

/** Shared, never-written empty payload for answers without data. */
const NO_DATA = Buffer.alloc(0);

/**
 * A uint64 from the wire as a store number. Values above `Number.MAX_SAFE_INTEGER` become
 * `Infinity`: the store never issues such ids or versions, so they never match (instead of being
 * rounded onto a real one).
 */
export function uint64ToNumber(value: bigint): number {
  return value <= MAX_SAFE_BIGINT ? Number(value) : Number.POSITIVE_INFINITY;
}

/** A non-negative store number as a wire uint64; fractions (e.g. ages from a fractional clock) are floored. */
export function numberToUint64(value: number): bigint {
  return value > 0 ? BigInt(Math.floor(value)) : 0n;
}

/** Get request → store input (the store fits the wait into the deadline). */
export function toGetInput(request: GetRequest): GetInput {
  return request;
}

/** Lock request → store input (the store applies the defaults and fits the wait into the deadline). */
export function toLockInput(request: LockRequest): LockInput {
  return {
    app: request.app,
    sessionId: request.sessionId,
    waitMs: request.waitMs,
    leaseMs: request.leaseMs,
    create: request.create,
    ttlSeconds: request.ttlSeconds,
  };
}

/** Set request → store input. */
export function toSetInput(request: SetRequest): SetInput {
  return {
    app: request.app,
    sessionId: request.sessionId,
    data: request.data,
    ttlSeconds: request.ttlSeconds,
    lockId: uint64ToNumber(request.lockId),
    keepLock: request.keepLock,
    expectedVersion: uint64ToNumber(request.expectedVersion),
    onlyIfAbsent: request.onlyIfAbsent,
  };
}

/** Release request → store input. */
export function toReleaseInput(request: ReleaseRequest): ReleaseInput {
  return { app: request.app, sessionId: request.sessionId, lockId: uint64ToNumber(request.lockId) };
}

/** Expire request → store input. */
export function toExpireInput(request: ExpireRequest): ExpireInput {
  return { app: request.app, sessionId: request.sessionId, ttlSeconds: request.ttlSeconds };
}

/** Remove request → store input. */
export function toRemoveInput(request: RemoveRequest): RemoveInput {
  return { app: request.app, sessionId: request.sessionId, lockId: uint64ToNumber(request.lockId) };
}

/** Store Get result → wire response (every field set, as the generated encoder expects). */
export function toGetResponse(result: GetResult): GetResponse {
  switch (result.outcome) {
    case "ok":
      return {
        outcome: Outcome.OUTCOME_OK,
        data: result.data,
        version: numberToUint64(result.version),
        lockId: 0n,
        lockAgeMs: 0n,
        ttlSeconds: result.ttlSeconds,
      };
    case "locked":
      return {
        outcome: Outcome.OUTCOME_LOCKED,
        data: NO_DATA,
        version: 0n,
        lockId: numberToUint64(result.lockId),
        lockAgeMs: numberToUint64(result.lockAgeMs),
        ttlSeconds: result.ttlSeconds,
      };
    case "not-found":
      return { outcome: Outcome.OUTCOME_NOT_FOUND, data: NO_DATA, version: 0n, lockId: 0n, lockAgeMs: 0n, ttlSeconds: 0 };
  }
}

/** Store Lock result → wire response (every field set, as the generated encoder expects). */
export function toLockResponse(result: LockResult): LockResponse {
  switch (result.outcome) {
    case "ok":
      return {
        outcome: Outcome.OUTCOME_OK,
        data: result.data,
        version: numberToUint64(result.version),
        lockId: numberToUint64(result.lockId),
        lockAgeMs: 0n,
        ttlSeconds: result.ttlSeconds,
        created: result.created,
        leaseMs: result.leaseMs,
      };
    case "locked":
      return {
        outcome: Outcome.OUTCOME_LOCKED,
        data: NO_DATA,
        version: 0n,
        lockId: numberToUint64(result.lockId),
        lockAgeMs: numberToUint64(result.lockAgeMs),
        ttlSeconds: result.ttlSeconds,
        created: false,
        leaseMs: 0,
      };
    case "not-found":
      return {
        outcome: Outcome.OUTCOME_NOT_FOUND,
        data: NO_DATA,
        version: 0n,
        lockId: 0n,
        lockAgeMs: 0n,
        ttlSeconds: 0,
        created: false,
        leaseMs: 0,
      };
  }
}

/** Store Set result → wire response. */
export function toSetResponse(result: SetResult): SetResponse {
  return { version: numberToUint64(result.version), written: result.written };
}

/** Store Release result → wire response (the same shape: no copy). */
export function toReleaseResponse(result: ReleaseResult): ReleaseResponse {
  return result;
}

/** Store Expire result → wire response. */
export function toExpireResponse(result: ExpireResult): ExpireResponse {
  return { found: result.found, ttlSeconds: result.ttlSeconds };
}

/** Store Remove result → wire response (the same shape: no copy). */
export function toRemoveResponse(result: RemoveResult): RemoveResponse {
  return result;
}
