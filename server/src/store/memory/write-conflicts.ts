import { StoreError, type StoreErrorReason } from "../store-error";
import type { SessionTable } from "./session-table";

/**
 * The conflicts a write or a removal can meet (the session's lock, its version), each with a
 * message that says what to do. Pure checks: they read the session and change nothing.
 */

function conflict(reason: StoreErrorReason, message: string): StoreError {
  return new StoreError("conflict", reason, message);
}

/** An id for a message: values the wire allows but no id can reach (above 2^53) read as such. */
function idText(id: number): string {
  return id === Infinity ? "(above 2^53, never issued)" : String(id);
}

/** A Set on a missing session: a lock id or a version can only be stale (a plain Set creates it). */
export function missingSessionConflict(lockId: number, expectedVersion: number): StoreError | undefined {
  if (lockId !== 0) return conflict("SESSION_GONE", `lock_id ${idText(lockId)} is stale: the session expired or was removed`);
  if (expectedVersion !== 0) {
    return conflict("VERSION_MISMATCH", `expected_version ${idText(expectedVersion)} does not match: the session does not exist`);
  }
  return undefined;
}

/** A Set on an existing session: with the holder's lock id, or none on an unlocked session. */
export function writeConflict(table: SessionTable, slot: number, lockId: number, now: number): StoreError | undefined {
  const holder = table.lockId[slot] as number;
  if (lockId === 0) {
    if (holder === 0) return undefined;
    return conflict(
      "LOCKED_BY_OTHER",
      `the session is locked by another holder (lock_id ${holder}, held ${Math.floor(now - (table.lockedAt[slot] as number))} ms); write with its lock_id or wait`,
    );
  }
  if (holder === lockId) return undefined;
  if (lockId < (table.firstLockId[slot] as number)) {
    return conflict("SESSION_GONE", `lock_id ${idText(lockId)} is stale: it is older than this session (removed or expired, and created again since)`);
  }
  if (leaseEnded(table, slot, lockId)) {
    return conflict("LEASE_EXPIRED", `lock_id ${idText(lockId)} is stale: its lease ended and the server released it`);
  }
  return conflict(
    "STALE_LOCK_ID",
    holder === 0
      ? `lock_id ${idText(lockId)} is stale: the lock was released`
      : `lock_id ${idText(lockId)} is stale: the session is locked by another holder (lock_id ${holder})`,
  );
}

/** A Set with expected_version on an existing session. */
export function versionConflict(expectedVersion: number, version: number): StoreError | undefined {
  if (expectedVersion === 0 || expectedVersion === version) return undefined;
  return conflict("VERSION_MISMATCH", `expected_version ${idText(expectedVersion)} does not match the current version ${version}`);
}

/** A Remove: a locked session goes only with the holder's lock id. */
export function removeConflict(table: SessionTable, slot: number, lockId: number): StoreError | undefined {
  const holder = table.lockId[slot] as number;
  if (holder === 0 || holder === lockId) return undefined;
  return conflict(
    "LOCKED_BY_OTHER",
    lockId === 0
      ? `the session is locked (holder lock_id ${holder}); remove needs the holder's lock_id`
      : `lock_id ${idText(lockId)} is not the holder's (holder lock_id ${holder})`,
  );
}

/**
 * Whether the lock `lockId` (not the holder's, issued for this incarnation) ended by its lease
 * rather than by a release. Locks of a session follow each other, so the last lease end and the
 * last release decide it for every id after the earlier of the two; an id older than both is
 * reported as released (the backend keeps no longer history).
 */
function leaseEnded(table: SessionTable, slot: number, lockId: number): boolean {
  const lastLease = table.lastLeaseExpiredLockId[slot] as number;
  const lastRelease = table.lastReleasedLockId[slot] as number;
  if (lockId === lastLease) return true;
  if (lockId === lastRelease) return false;
  return lockId > lastRelease && lockId < lastLease;
}
