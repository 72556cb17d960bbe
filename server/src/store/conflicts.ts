import { StoreError, type StoreErrorReason } from "./store-error";

/**
 * The refusals a write or a removal can meet (the session's lock, its version), each with a message
 * that says what to do: one wording for every backend. A backend decides which applies (the memory
 * backend in memory/write-conflicts.ts, Redis inside its scripts) and builds it here.
 */

function conflict(reason: StoreErrorReason, message: string): StoreError {
  return new StoreError("conflict", reason, message);
}

/** An id for a message: values the wire allows but no id can reach (above 2^53) read as such. */
function idText(id: number): string {
  return id === Infinity ? "(above 2^53, never issued)" : String(id);
}

/** A Set with lock_id 0 on a session another holder has locked for `heldMs`. */
export function lockedByOther(holder: number, heldMs: number): StoreError {
  return conflict(
    "LOCKED_BY_OTHER",
    `the session is locked by another holder (lock_id ${holder}, held ${Math.floor(heldMs)} ms); write with its lock_id or wait`,
  );
}

/** A lock id from before this incarnation of the session (or any lock id on a missing session). */
export function sessionGone(lockId: number, missing: boolean): StoreError {
  return conflict(
    "SESSION_GONE",
    missing
      ? `lock_id ${idText(lockId)} is stale: the session expired or was removed`
      : `lock_id ${idText(lockId)} is stale: it is older than this session (removed or expired, and created again since)`,
  );
}

/** A lock id whose lease ended (the server released it). */
export function leaseExpired(lockId: number): StoreError {
  return conflict("LEASE_EXPIRED", `lock_id ${idText(lockId)} is stale: its lease ended and the server released it`);
}

/** A lock id that was released, or that is not the holder's (`holder`, 0 if unlocked). */
export function staleLockId(lockId: number, holder: number): StoreError {
  return conflict(
    "STALE_LOCK_ID",
    holder === 0
      ? `lock_id ${idText(lockId)} is stale: the lock was released`
      : `lock_id ${idText(lockId)} is stale: the session is locked by another holder (lock_id ${holder})`,
  );
}

/** expected_version does not match `version` (undefined: the session does not exist). */
export function versionMismatch(expectedVersion: number, version: number | undefined): StoreError {
  return conflict(
    "VERSION_MISMATCH",
    version === undefined
      ? `expected_version ${idText(expectedVersion)} does not match: the session does not exist`
      : `expected_version ${idText(expectedVersion)} does not match the current version ${version}`,
  );
}

/** A Remove of a session locked by `holder` without its lock id. */
export function removeLocked(holder: number, lockId: number): StoreError {
  return conflict(
    "LOCKED_BY_OTHER",
    lockId === 0
      ? `the session is locked (holder lock_id ${holder}); remove needs the holder's lock_id`
      : `lock_id ${idText(lockId)} is not the holder's (holder lock_id ${holder})`,
  );
}
