import { leaseExpired, lockedByOther, removeLocked, sessionGone, staleLockId, versionMismatch } from "../conflicts";
import type { GetResult, LockedResult, LockResult } from "../operations";
import type { StoreError } from "../store-error";
import { CONFLICT, REPLY } from "./lua-scripts";
import type { ScriptReply } from "./redis-connection";

/**
 * Reading the scripts' replies (see lua-scripts.ts for their shapes) into the store's results and
 * refusals. A reply that breaks its shape is a bug: it throws, and the caller gets INTERNAL.
 */

/** The answer for a missing session. */
export const NOT_FOUND = Object.freeze({ outcome: "not-found" as const });

const EMPTY = Buffer.alloc(0);

/** Element `i` of a reply as a number. */
export function num(reply: ScriptReply, i: number): number {
  const value = reply[i];
  if (typeof value === "number") return value;
  if (Buffer.isBuffer(value)) return Number(value.toString("latin1"));
  throw new TypeError(`malformed script reply: element ${i} is not a number`);
}

/** Element `i` of a reply as bytes. */
export function bytes(reply: ScriptReply, i: number): Buffer {
  const value = reply[i];
  if (Buffer.isBuffer(value)) return value;
  if (value === undefined) return EMPTY;
  throw new TypeError(`malformed script reply: element ${i} is not a byte string`);
}

/** A LOCKED reply `{2, holder, ageMs, ttl}`. */
export function lockedOf(reply: ScriptReply): LockedResult {
  return { outcome: "locked", lockId: num(reply, 1), lockAgeMs: num(reply, 2), ttlSeconds: num(reply, 3) };
}

/** The LOCKED answer from a QUEUED reply `{3, n, leaseLeftMs, holder, ageMs, ttl}` (a wait that ends now). */
export function lockedOfQueued(reply: ScriptReply): LockedResult {
  return { outcome: "locked", lockId: num(reply, 3), lockAgeMs: num(reply, 4), ttlSeconds: num(reply, 5) };
}

/** A Get answer: `{1, version, ttl, data}`, `{0}` or `{2, ...}`. */
export function getResultOf(reply: ScriptReply): GetResult {
  switch (num(reply, 0)) {
    case REPLY.OK:
      return { outcome: "ok", version: num(reply, 1), ttlSeconds: num(reply, 2), data: bytes(reply, 3) };
    case REPLY.NOT_FOUND:
      return NOT_FOUND;
    case REPLY.LOCKED:
      return lockedOf(reply);
    default:
      throw new TypeError(`unexpected Get reply ${num(reply, 0)}`);
  }
}

/** A Lock answer: `{1, lockId, version, ttl, created, leaseMs, data}`, `{0}` or `{2, ...}`. */
export function lockResultOf(reply: ScriptReply): LockResult {
  switch (num(reply, 0)) {
    case REPLY.OK:
      return {
        outcome: "ok",
        lockId: num(reply, 1),
        version: num(reply, 2),
        ttlSeconds: num(reply, 3),
        created: num(reply, 4) === 1,
        leaseMs: num(reply, 5),
        data: bytes(reply, 6),
      };
    case REPLY.NOT_FOUND:
      return NOT_FOUND;
    case REPLY.LOCKED:
      return lockedOf(reply);
    default:
      throw new TypeError(`unexpected Lock reply ${num(reply, 0)}`);
  }
}

/** The refusal a CONFLICT reply `{-1, code, facts...}` stands for, for a call made with `lockId` / `expectedVersion`. */
export function conflictOf(reply: ScriptReply, lockId: number, expectedVersion: number): StoreError {
  const code = num(reply, 1);
  switch (code) {
    case CONFLICT.LOCKED_BY_OTHER:
      return lockedByOther(num(reply, 2), num(reply, 3));
    case CONFLICT.SESSION_GONE:
      return sessionGone(lockId, num(reply, 2) === 1);
    case CONFLICT.LEASE_EXPIRED:
      return leaseExpired(lockId);
    case CONFLICT.STALE_LOCK_ID:
      return staleLockId(lockId, num(reply, 2));
    case CONFLICT.VERSION_MISMATCH: {
      const version = num(reply, 2);
      return versionMismatch(expectedVersion, version === 0 ? undefined : version);
    }
    case CONFLICT.REMOVE_LOCKED:
      return removeLocked(num(reply, 2), lockId);
    default:
      throw new TypeError(`unexpected conflict code ${code}`);
  }
}
